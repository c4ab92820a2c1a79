#!/usr/bin/python3
"""One login against a bench server, with a client that is not ringbench.

bench/compare.sh runs this before any scenario, so a server that is
misconfigured (no STARTTLS, no SCRAM-SHA-1, no routing) fails loudly here
instead of showing up as odd numbers later. It logs in with STARTTLS and
SCRAM-SHA-1 using Debian's python3-slixmpp, binds, sends initial presence,
sends itself a chat message and waits for it to come back.

usage: login_check.py JID PASSWORD PORT [TIMEOUT_SECONDS]
Prints one line "ok tls=TLSv1.3 mech=SCRAM-SHA-1" or "FAIL ...";
exits 0 on success, 1 otherwise.
"""

import asyncio
import ssl
import sys

import slixmpp


class Check(slixmpp.ClientXMPP):
    def __init__(self, jid, password):
        super().__init__(jid, password, sasl_mech="SCRAM-SHA-1")
        # The bench certificate is self-signed, made by compare.sh.
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        self.result = "FAIL no session"
        self.tls_version = "none"
        self.add_event_handler("session_start", self.on_start)
        self.add_event_handler("message", self.on_message)
        self.add_event_handler("failed_auth", self.on_failed_auth)

    async def on_start(self, _event):
        version = getattr(self.socket, "version", None)
        self.tls_version = version() if callable(version) else "unknown"
        self.send_presence()
        self.send_message(mto=self.boundjid.full, mbody="bench login check", mtype="chat")

    def on_message(self, msg):
        if msg["body"] == "bench login check":
            mech = self["feature_mechanisms"].mech
            name = getattr(mech, "name", "?") if mech else "?"
            self.result = f"ok tls={self.tls_version} mech={name}"
            self.disconnect()

    def on_failed_auth(self, _event):
        self.result = "FAIL authentication"
        self.disconnect()


def main(argv):
    if len(argv) not in (4, 5):
        print("usage: login_check.py JID PASSWORD PORT [TIMEOUT_SECONDS]", file=sys.stderr)
        return 2
    jid, password, port = argv[1], argv[2], int(argv[3])
    timeout = float(argv[4]) if len(argv) == 5 else 15.0
    client = Check(jid, password)
    client.connect(("127.0.0.1", port), force_starttls=True)
    try:
        client.loop.run_until_complete(asyncio.wait_for(client.disconnected, timeout))
    except asyncio.TimeoutError:
        client.result = f"FAIL timeout after {timeout:g}s ({client.result})"
    print(client.result)
    return 0 if client.result.startswith("ok") else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))

#!/usr/bin/python3
"""Log in one client and, optionally, prove the session works.

    login.py --port P --jid alice@localhost --password pw
        [--direct-tls] [--presence] [--wait-stdin] [--self-message BODY]
        [--subscribe JID] [--ping]

Connects (STARTTLS, or direct TLS), authenticates with SCRAM-SHA-256, binds,
and reports session_start (or failed_auth; exit status 3). --presence sends
initial presence and waits for it to come back. With --wait-stdin
it then reports "ready" and waits for one line on stdin before going on, so
a test can do something else in between. --self-message sends a chat
message to the client's own full JID and waits for it to come back;
--subscribe fetches the roster, asks for JID's presence (RFC 6121 §3.1.1)
and waits for the roster push that records the pending request (ask
"subscribe"); --ping
sends a XEP-0199 ping to the server and reports the answer (iq_result or
iq_error). See common.py for the event format.
"""

import common


async def scenario(events, args, clients):
    c = common.new_client(events, args, clients, "c", args.jid, args.password)
    await c.start()
    if args.presence:
        await c.available()
    if args.wait_stdin:
        events.emit("ready", client="c")
        events.waiting_for = "a line on stdin"
        await common.read_stdin_line()
        events.waiting_for = None
    if args.self_message is not None:
        mark = events.mark()
        c.send_message(mto=c.boundjid, mbody=args.self_message, mtype="chat")
        await events.expect({"event": "message", "client": "c", "body": args.self_message}, since=mark)
    if args.subscribe is not None:
        # Roster pushes go only to resources that fetched the roster
        # (RFC 6121 §2.1.6).
        await c.fetch_roster()
        mark = events.mark()
        c.send_presence_subscription(pto=args.subscribe, ptype="subscribe")

        def pending(ev):
            return any(i["jid"] == args.subscribe and i["ask"] == "subscribe" for i in ev.get("items", []))
        await events.expect({"event": "roster_push", "client": "c"}, since=mark, check=pending)
    if args.ping:
        await c.ping_server()
    await c.stop()


def main():
    p = common.parser(__doc__.split("\n")[0])
    p.add_argument("--jid", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--presence", action="store_true", help="send initial presence and wait for it to come back")
    p.add_argument("--wait-stdin", action="store_true", help="after login, report ready and wait for a line on stdin")
    p.add_argument("--self-message", metavar="BODY", help="send BODY to our own full JID and wait for it")
    p.add_argument("--subscribe", metavar="JID", help="subscribe to JID's presence, wait for the roster push")
    p.add_argument("--ping", action="store_true", help="ping the server (XEP-0199)")
    common.run(scenario, p.parse_args())


if __name__ == "__main__":
    main()

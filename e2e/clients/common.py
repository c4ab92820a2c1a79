"""Shared plumbing for the ringd end-to-end scenario scripts.

Every scenario script in this directory is a small program that drives one or
more slixmpp clients against a server and reports what happened as JSON
lines on stdout, one object per line, each with an "event" key:

    connected      TCP (and, for direct TLS, TLS) connection is up
    session_start  SASL + bind done: jid, mechanism, offered, tls, starttls
    failed_auth    SASL <failure/>: condition, text
    no_auth        no offered mechanism was acceptable: offered
    roster         roster get result: items, ver
    roster_push    roster push (iq type=set) received: items, ver
    presence       any presence stanza received: from, to, type, show, status
    message        any message stanza received (with a body or not, errors
                   included): from, to, type, body, id;
                   delays, a list of every XEP-0203 <delay/> child as
                   {"from", "stamp"} (attribute values as sent), if any;
                   condition and error_type for type "error"
    iq_result      an IQ we sent got a result: what, id, from
    iq_error       an IQ we sent got an error: what, id, from, condition,
                   error_type, text
    stream_error   the server sent <stream:error/>: condition, text
    disconnected   the stream is gone
    ready          (--wait-stdin) logged in, waiting for a line on stdin
    sent           (send_many.py) every message is on its way: count
    received       (receive.py) the expected messages have come: count
    timeout        the hard timeout fired: waiting_for
    error          the scenario failed: message
    done           the scenario ran to its end: ok

Every event that concerns one client carries "client", the label the script
gave it (e.g. "alice", "A"). Exit status: 0 the scenario completed, 1 it
failed (see the "error" event), 2 the hard timeout (--timeout) fired, 3
authentication failed.

With --debug the slixmpp debug log (including every SEND:/RECV: line of XML)
goes to stderr; the Go harness always passes it and shows it when a test
fails.

Run the scripts with /usr/bin/python3 (Debian's python3-slixmpp).
"""

import argparse
import asyncio
import json
import logging
import ssl
import sys

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.xmlstream import ET
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_TIMEOUT = 2
EXIT_AUTH_FAILED = 3

log = logging.getLogger("e2e")


class ScenarioFailed(Exception):
    """The scenario cannot go on; the message says why."""


class AuthFailed(ScenarioFailed):
    """SASL authentication failed."""


class Events:
    """Emits events as JSON lines and lets scenario code wait for them.

    Scenario code waits on exactly the events the Go tests later assert on,
    so a script never sleeps: it sends, then waits for the answer.
    """

    def __init__(self):
        self.seen = []
        self._waiters = []
        self.waiting_for = None

    def emit(self, event, **fields):
        rec = {"event": event}
        for key, value in fields.items():
            if value is not None:
                rec[key.rstrip("_")] = value
        print(json.dumps(rec, ensure_ascii=True), flush=True)
        self.seen.append(rec)
        for waiter in list(self._waiters):
            match, fut = waiter
            if fut.done():
                self._waiters.remove(waiter)
            elif match(rec):
                fut.set_result(rec)
                self._waiters.remove(waiter)
        return rec

    def mark(self):
        """Returns a position in the event log, for expect(since=...)."""
        return len(self.seen)

    async def expect(self, want, since=0, check=None, what=None):
        """Waits for the first event at or after position since whose fields
        equal every key of want (and, if given, for which check(event) is
        true), and returns it. what describes the wait in a timeout event
        (default: want)."""

        def match(rec):
            if any(rec.get(k) != v for k, v in want.items()):
                return False
            return check is None or check(rec)

        for rec in self.seen[since:]:
            if match(rec):
                return rec
        fut = asyncio.get_running_loop().create_future()
        self._waiters.append((match, fut))
        self.waiting_for = what or json.dumps(want, ensure_ascii=True)
        log.debug("waiting for %s", self.waiting_for)
        # Not cleared when the hard timeout cancels the wait: the timeout
        # event reports it.
        rec = await fut
        self.waiting_for = None
        return rec

    async def expect_n(self, want, n, since=0, check=None):
        """Waits until n events at or after position since match want (and
        check), as expect() matches one, and returns the first n."""

        def match(rec):
            if any(rec.get(k) != v for k, v in want.items()):
                return False
            return check is None or check(rec)

        while True:
            got = [rec for rec in self.seen[since:] if match(rec)]
            if len(got) >= n:
                return got[:n]
            # expect() from the end of the log waits for the next match.
            what = "%d events %s, got %d" % (n, json.dumps(want, ensure_ascii=True), len(got))
            await self.expect(want, since=len(self.seen), check=check, what=what)


def roster_items(query):
    """The items of a jabber:iq:roster query as a list of plain dicts."""
    items = []
    for jid, item in query["items"].items():
        items.append({
            "jid": str(jid),
            "name": item.get("name") or "",
            "subscription": item.get("subscription") or "",
            "ask": item.get("ask") or "",
            "groups": list(item.get("groups") or []),
        })
    items.sort(key=lambda i: i["jid"])
    return items


class Client(slixmpp.ClientXMPP):
    """A slixmpp client that reports everything it sees through Events.

    It never verifies the server certificate (ringd uses a self-signed one),
    insists on TLS (STARTTLS, or direct TLS with --direct-tls), restricts SASL
    to --mech (SCRAM-SHA-256 by default), and handles no subscription request
    by itself: the scenario decides.
    """

    def __init__(self, events, args, label, jid, password):
        super().__init__(jid, password, sasl_mech=args.mech or None)
        self.events = events
        self.args = args
        self.label = label
        self._started = None
        # ringd uses a self-signed certificate: do not verify it. The order
        # matters: check_hostname must be off before CERT_NONE is allowed.
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        # Subscriptions are answered by the scenario, never automatically.
        self.auto_authorize = None
        self.auto_subscribe = False
        # Fail fast instead of slixmpp's endless reconnect loop.
        self.add_event_handler("connection_failed", self._on_connection_failed)
        self.add_event_handler("connected", self._on_connected)
        self.add_event_handler("session_start", self._on_session_start)
        self.add_event_handler("failed_auth", self._on_failed_auth)
        self.add_event_handler("no_auth", self._on_no_auth)
        self.add_event_handler("stream_error", self._on_stream_error)
        self.add_event_handler("disconnected", self._on_disconnected)
        # slixmpp's "message" event skips messages without a body, and its
        # "message_error" those without one too: report every message.
        self.register_handler(Callback("e2e message", MatchXPath("{jabber:client}message"), self._on_message))
        self.add_event_handler("presence", self._on_presence)
        self.add_event_handler("roster_update", self._on_roster_update)

    def emit(self, event, **fields):
        return self.events.emit(event, client=self.label, **fields)

    # --- lifecycle ---------------------------------------------------------

    async def start(self):
        """Connects, negotiates TLS, authenticates and binds. Raises
        AuthFailed or ScenarioFailed when that does not happen."""
        self._started = asyncio.get_running_loop().create_future()
        direct = self.args.direct_tls
        # slixmpp 1.8.3 accepts force_starttls but never enforces it, so
        # _on_session_start refuses a session without TLS, and SCRAM
        # refuses to run unencrypted (unencrypted_scram is off).
        self.connect((self.args.host, self.args.port), use_ssl=direct,
                     force_starttls=not direct, disable_starttls=False)
        return await self._started

    async def stop(self):
        """Closes the stream and waits until the connection is gone."""
        if self.transport is None:
            return
        mark = self.events.mark()
        self.disconnect(wait=5.0)
        await self.events.expect({"event": "disconnected", "client": self.label}, since=mark)

    def _fail_start(self, exc):
        if self._started is not None and not self._started.done():
            self._started.set_exception(exc)

    def _on_connection_failed(self, err):
        self.emit("connection_failed", error=str(err))
        self.cancel_connection_attempt()
        self._fail_start(ScenarioFailed("%s: connection failed: %s" % (self.label, err)))

    def _on_connected(self, _):
        self.emit("connected")

    def _on_session_start(self, _):
        sock = self.socket
        tls = sock.version() if isinstance(sock, (ssl.SSLObject, ssl.SSLSocket)) else ""
        mechs = self["feature_mechanisms"]
        mech = mechs.mech.name if mechs.mech is not None else ""
        self.emit("session_start", jid=str(self.boundjid), mechanism=mech,
                  offered=sorted(mechs.mech_list), tls=tls,
                  starttls="starttls" in self.features)
        if not tls:
            self._fail_start(ScenarioFailed("%s: session started without TLS" % self.label))
        elif self._started is not None and not self._started.done():
            self._started.set_result(self)

    def _on_failed_auth(self, stanza):
        self.emit("failed_auth", condition=stanza["condition"], text=stanza["text"] or None)
        self._fail_start(AuthFailed("%s: authentication failed: %s" % (self.label, stanza["condition"])))

    def _on_no_auth(self, _):
        offered = sorted(self["feature_mechanisms"].mech_list)
        self.emit("no_auth", offered=offered)
        self._fail_start(AuthFailed("%s: no acceptable SASL mechanism among %s" % (self.label, offered)))

    def _on_stream_error(self, err):
        self.emit("stream_error", condition=err["condition"], text=err["text"] or None)

    def _on_disconnected(self, reason):
        self.emit("disconnected", reason=str(reason) if reason else None)
        self._fail_start(ScenarioFailed("%s: disconnected before the session started" % self.label))

    # --- received stanzas -------------------------------------------------

    def _on_message(self, msg):
        fields = {}
        if msg["type"] == "error":
            fields = {"condition": msg["error"]["condition"], "error_type": msg["error"]["type"]}
        delays = [{"from": d.get("from", ""), "stamp": d.get("stamp", "")}
                  for d in msg.xml.findall("{urn:xmpp:delay}delay")]
        if delays:
            fields["delays"] = delays
        self.emit("message", from_=str(msg["from"]), to=str(msg["to"]), type=msg["type"],
                  body=msg["body"], id=msg["id"] or None, **fields)

    def _on_presence(self, pres):
        fields = {}
        if pres["type"] == "error":
            fields = {"condition": pres["error"]["condition"], "error_type": pres["error"]["type"]}
        self.emit("presence", from_=str(pres["from"]), to=str(pres["to"]), type=pres["type"],
                  show=pres["show"] or None, status=pres["status"] or None,
                  priority=pres["priority"], **fields)

    def _on_roster_update(self, iq):
        # get_roster() results also arrive here; fetch_roster reports those.
        if iq["type"] == "set":
            self.emit("roster_push", from_=str(iq["from"]) or None,
                      ver=iq["roster"]["ver"], items=roster_items(iq["roster"]))

    # --- actions ----------------------------------------------------------

    async def iq(self, what, itype, payload, to=None):
        """Sends an IQ whose child is the XML string payload and reports the
        answer as iq_result or iq_error. Returns the answer stanza, or None
        on error."""
        iq = self.Iq()
        iq["type"] = itype
        if to:
            iq["to"] = to
        iq.append(ET.fromstring(payload))
        return await self._send_iq(what, iq)

    async def _send_iq(self, what, iq):
        try:
            resp = await iq.send(timeout=self.args.timeout)
        except IqError as e:
            err = e.iq["error"]
            self.emit("iq_error", what=what, id=e.iq["id"], from_=str(e.iq["from"]),
                      condition=err["condition"], error_type=err["type"],
                      text=err["text"] or None)
            return None
        except IqTimeout:
            raise ScenarioFailed("%s: no answer to IQ %s" % (self.label, what))
        self.emit("iq_result", what=what, id=resp["id"], from_=str(resp["from"]),
                  message=str(resp))
        return resp

    async def fetch_roster(self):
        """Requests the roster (RFC 6121 §2.2) and reports it as "roster"."""
        iq = self.Iq()
        iq["type"] = "get"
        iq.enable("roster")
        try:
            resp = await iq.send(timeout=self.args.timeout)
        except IqError as e:
            err = e.iq["error"]
            self.emit("iq_error", what="roster-get", id=e.iq["id"], condition=err["condition"],
                      error_type=err["type"])
            raise ScenarioFailed("%s: roster get failed: %s" % (self.label, err["condition"]))
        except IqTimeout:
            raise ScenarioFailed("%s: no answer to roster get" % self.label)
        self.emit("roster", ver=resp["roster"]["ver"], items=roster_items(resp["roster"]))
        return resp

    async def set_roster_item(self, jid, name, groups):
        """Adds or updates one roster item (RFC 6121 §2.3)."""
        iq = self.Iq()
        iq["type"] = "set"
        iq["roster"]["items"] = {jid: {"name": name, "groups": groups}}
        return await self._send_iq("roster-set", iq)

    async def available(self):
        """Sends initial presence (RFC 6121 §4.2) and waits until our own
        presence comes back (§4.2.2). What initial presence makes the server
        send besides (stored subscription requests, offline messages) may
        come before or after it; ringd handles a session's stanzas in order,
        so the answer to a ping sent after this comes after all of it."""
        mark = self.events.mark()
        self.send_presence()
        await self.events.expect({"event": "presence", "client": self.label,
                                  "from": str(self.boundjid), "type": "available"}, since=mark)

    async def ping_server(self):
        """XEP-0199 ping to the server; any answer proves it serves us."""
        return await self.iq("ping", "get", "<ping xmlns='urn:xmpp:ping'/>", to=self.boundjid.domain)


def new_client(events, args, clients, label, jid, password):
    """Creates a Client and registers it for clean-up at exit."""
    c = Client(events, args, label, jid, password)
    clients.append(c)
    return c


def parser(description):
    """The command-line options every scenario script shares."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--host", default="127.0.0.1", help="server address to connect to")
    p.add_argument("--port", type=int, required=True, help="c2s port (STARTTLS, or direct TLS with --direct-tls)")
    p.add_argument("--direct-tls", action="store_true", help="TLS from the first byte (XEP-0368) instead of STARTTLS")
    p.add_argument("--mech", default="SCRAM-SHA-256", help="the only SASL mechanism to use ('' = slixmpp's choice)")
    p.add_argument("--timeout", type=float, default=20.0, help="hard timeout for the whole scenario, seconds")
    p.add_argument("--debug", action="store_true", help="slixmpp debug log (all XML) on stderr")
    return p


async def read_stdin_line():
    """Reads one line from stdin without blocking the event loop."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    try:
        return (await reader.readline()).decode("utf-8").strip()
    finally:
        transport.close()


def run(scenario, args):
    """Runs the coroutine scenario(events, args) under the hard timeout,
    emits done/timeout/error and exits with the matching status."""
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    events = Events()

    async def main():
        clients = []
        try:
            await asyncio.wait_for(scenario(events, args, clients), args.timeout)
        except asyncio.TimeoutError:
            events.emit("timeout", waiting_for=events.waiting_for, after=args.timeout)
            return EXIT_TIMEOUT
        except AuthFailed as e:
            events.emit("done", ok=False, message=str(e))
            return EXIT_AUTH_FAILED
        except ScenarioFailed as e:
            events.emit("error", message=str(e))
            return EXIT_FAILED
        except Exception as e:  # a bug in the script or in slixmpp
            log.exception("scenario crashed")
            events.emit("error", message="%s: %s" % (type(e).__name__, e))
            return EXIT_FAILED
        finally:
            for c in clients:
                if c.transport is not None:
                    try:
                        c.abort()
                    except Exception:  # already half-closed; nothing to free
                        log.debug("abort %s", c.label, exc_info=True)
        events.emit("done", ok=True)
        return EXIT_OK

    sys.exit(asyncio.run(main()))

#!/usr/bin/python3
"""XEP-0191 blocking: a blocked caller is refused at once, and presence
does not cross a block.

    blocking.py --port P --alice alice@localhost --alice-password pw
        --bob bob@localhost --bob-password pw
        --scenario online|offline|presence
        [--app pushapp@localhost/srv --app-password pw]

The block list is driven with slixmpp's XEP-0191 plugin, as a client
would. Clients: "alice" (ALICE/desk), "phone" (BOB/phone), "laptop"
(BOB/laptop, priority -1), "app" (the XEP-0357 app server, --app).

online   alice, phone and laptop log in, available. The phone fetches
         its block list (which makes it an interested resource) and
         blocks alice. alice calls bob (propose call-1) and sends him a
         chat message: both come back as errors at once, and no device
         rings. The phone sends alice a chat message: not-acceptable with
         <blocked/>. alice calls nobody@localhost, an account that does not
         exist: an error at once. The phone unblocks alice; alice calls
         again (call-2): both devices ring.
offline  app and alice log in. The phone logs in, registers the app
         server for push (node n1), fetches its list, blocks alice and logs
         out; the script reports "ready" and waits for a line on stdin
         (the test waits until the server has unbound bob). alice calls bob
         (call-1) and sends him a chat message: both refused at once. The
         phone logs in and becomes available (nothing was kept for it),
         unblocks alice and logs out; "ready" and stdin again. alice calls
         (call-2): the app server gets a notification. The phone logs in
         and gets the stored offer.
presence alice (desk) and the phone log in, available, and subscribe to
         each other. The phone fetches its list and blocks alice: each
         gets the other's unavailable presence. "phase" blocked. Both
         change status ("alice blocked", "phone blocked"), and alice logs
         in a second resource (ALICE/laptop), whose login probes bob; the
         phone changes status again ("phone blocked 2"). A ping round trip
         from everyone lets whatever was sent arrive. "phase" unblocking.
         The phone unblocks alice: alice's resources get the phone's
         current presence and the phone theirs. The phone sets "phone
         unblocked", alice "alice unblocked", and each waits until the
         other side has seen it.

Events besides those of common.py, call_lib.py and push_app.py:

    refused        a message error came back for a message the client sent
                   with an id: id, from, condition, error_type, text
                   ("blocked" when the error carries <blocked
                   xmlns='urn:xmpp:blocking:errors'/>), count (milliseconds
                   since it was sent)
    blocklist      the block list was fetched: message (the JIDs, sorted,
                   space-separated)
    blocking_push  the server pushed a change of the list: what (block or
                   unblock), message (its JIDs, as for blocklist)
    phase          (presence) the scenario reached a step: message
                   (blocked, unblocking); every presence event between the
                   two was received while alice was blocked
"""

import asyncio
import sys

import call_lib
import common
from push_app import AppServer
from subscribe import handshake
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

NS_BLOCKING_ERRORS = "urn:xmpp:blocking:errors"
NS_CLIENT = "jabber:client"


class Device(call_lib.CallClient):
    """A calling device that can block, and that times its messages'
    errors."""

    def __init__(self, events, args, label, jid, password):
        super().__init__(events, args, label, jid, password)
        self.register_plugin("xep_0191")
        self.add_event_handler("blocked", lambda iq: self._on_push("block", iq))
        self.add_event_handler("unblocked", lambda iq: self._on_push("unblock", iq))
        self.register_handler(Callback("e2e refused", MatchXPath("{%s}message" % NS_CLIENT),
                                       self._on_error))
        self.sent_at = {}

    def _on_push(self, what, iq):
        self.emit("blocking_push", what=what, message=" ".join(sorted(str(j) for j in iq[what]["items"])))
        iq.reply().send()

    def _on_error(self, msg):
        if msg["type"] != "error":
            return
        sent = self.sent_at.pop(msg["id"], None)
        if sent is None:
            return
        blocked = msg.xml.find("{%s}error/{%s}blocked" % (NS_CLIENT, NS_BLOCKING_ERRORS)) is not None
        self.emit("refused", id=msg["id"], from_=str(msg["from"]), condition=msg["error"]["condition"],
                  error_type=msg["error"]["type"], text="blocked" if blocked else None,
                  count=round((asyncio.get_running_loop().time() - sent) * 1000))

    def timed(self, stanza_id):
        self.sent_at[stanza_id] = asyncio.get_running_loop().time()
        return stanza_id

    def call(self, to, sid):
        self.propose(to, sid, stanza_id=self.timed("propose-" + sid))

    def chat(self, to, body, stanza_id):
        msg = self.make_message(mto=to, mbody=body, mtype="chat")
        msg["id"] = self.timed(stanza_id)
        msg.send()

    async def fetch_blocklist(self):
        iq = await self.plugin["xep_0191"].get_blocked(timeout=self.args.timeout)
        self.emit("blocklist", message=" ".join(sorted(str(j) for j in iq["blocklist"]["items"])))

    async def block(self, jid):
        mark = self.events.mark()
        await self.plugin["xep_0191"].block(jid, timeout=self.args.timeout)
        await self.events.expect({"event": "blocking_push", "client": self.label, "what": "block"}, since=mark)

    async def unblock(self, jid):
        mark = self.events.mark()
        await self.plugin["xep_0191"].unblock(jid, timeout=self.args.timeout)
        await self.events.expect({"event": "blocking_push", "client": self.label, "what": "unblock"}, since=mark)


class Stdin:
    """Lines from stdin, read without blocking the event loop; unlike
    common.read_stdin_line, it can read more than one."""

    def __init__(self):
        self.reader = None
        self.transport = None

    async def line(self):
        if self.reader is None:
            self.reader = asyncio.StreamReader()
            self.transport, _ = await asyncio.get_running_loop().connect_read_pipe(
                lambda: asyncio.StreamReaderProtocol(self.reader), sys.stdin)
        return (await self.reader.readline()).decode("utf-8").strip()

    def close(self):
        if self.transport is not None:
            self.transport.close()


def refused(events, label, stanza_id, since=0):
    return events.expect({"event": "refused", "client": label, "id": stanza_id}, since=since)


async def online(events, args, clients):
    alice = Device(events, args, "alice", args.alice + "/desk", args.alice_password)
    phone = Device(events, args, "phone", args.bob + "/phone", args.bob_password)
    laptop = Device(events, args, "laptop", args.bob + "/laptop", args.bob_password)
    everyone = [alice, phone, laptop]
    clients.extend(everyone)
    await call_lib.connect_all(everyone, {"phone": 1, "laptop": -1})

    await phone.fetch_blocklist()
    await phone.block(args.alice)
    await phone.fetch_blocklist()
    alice.call(args.bob, "call-1")
    await refused(events, "alice", "propose-call-1")
    alice.chat(args.bob, "hello?", "chat-1")
    await refused(events, "alice", "chat-1")
    phone.chat(args.alice, "do not call me", "chat-2")
    await refused(events, "phone", "chat-2")
    alice.call("nobody@" + alice.boundjid.domain, "call-nobody")
    await refused(events, "alice", "propose-call-nobody")
    await call_lib.settle(events, everyone, everyone)

    await phone.unblock(args.alice)
    mark = events.mark()
    alice.call(args.bob, "call-2")
    await events.expect({"event": "jmi", "client": "phone", "what": "propose", "id": "call-2"}, since=mark)
    await events.expect({"event": "jmi", "client": "laptop", "what": "propose", "id": "call-2"}, since=mark)
    await call_lib.settle(events, everyone, everyone)
    await asyncio.gather(*(c.stop() for c in everyone))


async def offline(events, args, clients):
    app = AppServer(events, args, "app", args.app, args.app_password)
    alice = Device(events, args, "alice", args.alice + "/desk", args.alice_password)
    clients.extend([app, alice])
    stdin = Stdin()
    await call_lib.connect_all([app, alice])

    async def phone_session(label):
        phone = Device(events, args, label, args.bob + "/phone", args.bob_password)
        clients.append(phone)
        await phone.start()
        return phone

    async def wait_offline():
        events.emit("ready")
        events.waiting_for = "a line on stdin"
        await stdin.line()
        events.waiting_for = None

    # bob: push registration and the block, then gone.
    phone = await phone_session("phone-setup")
    await phone.iq("push-enable", "set", "<enable xmlns='urn:xmpp:push:0' jid='%s' node='n1'/>" % args.app,
                   to=args.bob)
    await phone.fetch_blocklist()
    await phone.block(args.alice)
    await phone.stop()
    await wait_offline()

    alice.call(args.bob, "call-1")
    await refused(events, "alice", "propose-call-1")
    alice.chat(args.bob, "hello?", "chat-1")
    await refused(events, "alice", "chat-1")
    await call_lib.settle(events, [alice], [alice, app])

    # bob logs in: nothing was kept. He unblocks alice and leaves.
    phone = await phone_session("phone-unblock")
    await phone.available_prio(1)
    await call_lib.settle(events, [alice, phone], [phone])
    await phone.fetch_blocklist()
    await phone.unblock(args.alice)
    await phone.stop()
    await wait_offline()

    mark = events.mark()
    alice.call(args.bob, "call-2")
    await events.expect({"event": "push", "client": "app"}, since=mark)
    await call_lib.settle(events, [alice], [alice, app])

    phone = await phone_session("phone-later")
    await phone.available_prio(1)
    await events.expect({"event": "jmi", "client": "phone-later", "what": "propose", "id": "call-2"})
    await call_lib.settle(events, [alice, phone], [phone, app])
    await asyncio.gather(alice.stop(), phone.stop(), app.stop())
    stdin.close()


async def set_status(events, client, status, seen_by=()):
    """Broadcasts available presence with status and waits until it came
    back to client and reached every client of seen_by."""
    mark = events.mark()
    client.send_presence(pstatus=status)
    for c in (client,) + tuple(seen_by):
        await events.expect({"event": "presence", "client": c.label, "from": str(client.boundjid),
                             "type": "available", "status": status}, since=mark)


async def presence(events, args, clients):
    alice = Device(events, args, "alice", args.alice + "/desk", args.alice_password)
    phone = Device(events, args, "phone", args.bob + "/phone", args.bob_password)
    clients.extend([alice, phone])
    await call_lib.connect_all([alice, phone])
    await handshake(events, alice, phone)
    await handshake(events, phone, alice)
    await set_status(events, alice, "alice before", seen_by=[phone])
    await set_status(events, phone, "phone before", seen_by=[alice])

    await phone.fetch_blocklist()
    mark = events.mark()
    await phone.block(args.alice)
    await events.expect({"event": "presence", "client": "alice", "from": str(phone.boundjid),
                         "type": "unavailable"}, since=mark)
    await events.expect({"event": "presence", "client": "phone", "from": str(alice.boundjid),
                         "type": "unavailable"}, since=mark)
    events.emit("phase", message="blocked")
    await set_status(events, alice, "alice blocked")
    await set_status(events, phone, "phone blocked")
    laptop = Device(events, args, "laptop", args.alice + "/laptop", args.alice_password)
    clients.append(laptop)
    await laptop.start()
    await laptop.available_prio(0)
    await set_status(events, phone, "phone blocked 2")
    everyone = [alice, laptop, phone]
    await call_lib.settle(events, everyone, everyone)
    events.emit("phase", message="unblocking")

    mark = events.mark()
    await phone.unblock(args.alice)
    for c, frm in ((alice, phone), (laptop, phone), (phone, alice), (phone, laptop)):
        await events.expect({"event": "presence", "client": c.label, "from": str(frm.boundjid),
                             "type": "available"}, since=mark)
    await set_status(events, phone, "phone unblocked", seen_by=[alice, laptop])
    await set_status(events, alice, "alice unblocked", seen_by=[phone])
    await call_lib.settle(events, everyone, everyone)
    await asyncio.gather(*(c.stop() for c in everyone))


async def scenario(events, args, clients):
    if args.scenario == "online":
        await online(events, args, clients)
    elif args.scenario == "presence":
        await presence(events, args, clients)
    else:
        await offline(events, args, clients)


def main():
    p = common.parser(__doc__.split("\n")[0])
    p.add_argument("--alice", required=True)
    p.add_argument("--alice-password", required=True)
    p.add_argument("--bob", required=True)
    p.add_argument("--bob-password", required=True)
    p.add_argument("--app", help="offline: the app server's full JID")
    p.add_argument("--app-password")
    p.add_argument("--scenario", required=True, choices=("online", "offline", "presence"))
    common.run(scenario, p.parse_args())


if __name__ == "__main__":
    main()

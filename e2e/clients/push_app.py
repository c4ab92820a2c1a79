#!/usr/bin/python3
"""Play a XEP-0357 app server and watch the tickles for an offline callee.

    push_app.py --port P --app pushapp@localhost/srv --app-password pw
        --alice alice@localhost --alice-password pw --bob bob@localhost
        [--sid ID] [--body TEXT]

Logs in the app server ("app", the full JID --app, available) and alice
("alice"), reports "ready" and waits for a line on stdin: meanwhile the
test has bob register the app server (<enable/> with node n1) and log out.
Then alice calls bob's bare JID (a XEP-0353 propose with id --sid) and,
once the app server got its notification, sends bob a chat message with
body --body, and waits for the second notification. A ping round trip from
alice, then from the app server, lets anything else arrive before the end.

Every publish IQ set the app server gets is answered with an empty result
and reported as

    push   from, to, id (the IQ's), what (the publish node), count
           (message-count), body (last-message-body), status
           (last-message-priority), message: a JSON object with "fields"
           (every field of the summary form: var → list of values),
           "priority" (the text of <priority xmlns='tigase:push:priority:0'/>,
           or null) and "xml" (the whole <pubsub/> in C14N form)

See call_lib.py and common.py for the other events.
"""

import json

import call_lib
import common
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

NS_PUBSUB = "http://jabber.org/protocol/pubsub"
NS_PUSH = "urn:xmpp:push:0"
NS_DATA = "jabber:x:data"
NS_TIGASE_PRIORITY = "tigase:push:priority:0"


class AppServer(call_lib.CallClient):
    def __init__(self, events, args, label, jid, password):
        super().__init__(events, args, label, jid, password)
        self.register_handler(Callback("e2e push", MatchXPath("{jabber:client}iq/{%s}pubsub" % NS_PUBSUB),
                                       self._on_publish))

    def _on_publish(self, iq):
        if iq["type"] != "set":
            return
        pubsub = iq.xml.find("{%s}pubsub" % NS_PUBSUB)
        publish = pubsub.find("{%s}publish" % NS_PUBSUB)
        note = pubsub.find("{%s}publish/{%s}item/{%s}notification" % (NS_PUBSUB, NS_PUBSUB, NS_PUSH))
        fields = {}
        priority = None
        if note is not None:
            for f in note.findall("{%s}x/{%s}field" % (NS_DATA, NS_DATA)):
                fields[f.get("var")] = [v.text or "" for v in f.findall("{%s}value" % NS_DATA)]
            p = note.find("{%s}priority" % NS_TIGASE_PRIORITY)
            if p is not None:
                priority = p.text or ""

        def one(var):
            values = fields.get(var)
            return values[0] if values else None

        count = one("message-count")
        self.emit("push", from_=str(iq["from"]), to=str(iq["to"]), id=iq["id"],
                  what=publish.get("node") if publish is not None else None,
                  count=int(count) if count and count.isdigit() else None,
                  body=one("last-message-body"), status=one("last-message-priority"),
                  message=json.dumps({"fields": fields, "priority": priority, "xml": call_lib.canonical(pubsub)}))
        iq.reply().send()


async def scenario(events, args, clients):
    app = AppServer(events, args, "app", args.app, args.app_password)
    alice = call_lib.CallClient(events, args, "alice", args.alice + "/desk", args.alice_password)
    clients.extend([app, alice])
    await call_lib.connect_all([app, alice])
    events.emit("ready")
    events.waiting_for = "a line on stdin"
    await common.read_stdin_line()
    events.waiting_for = None

    mark = events.mark()
    alice.propose(args.bob, args.sid)
    await events.expect({"event": "push", "client": "app"}, since=mark)
    mark = events.mark()
    alice.send_message(mto=args.bob, mbody=args.body, mtype="chat")
    await events.expect({"event": "push", "client": "app"}, since=mark)
    await call_lib.settle(events, [alice], [app, alice])
    await app.stop()
    await alice.stop()


def main():
    p = common.parser(__doc__.split("\n")[0])
    p.add_argument("--app", required=True, help="the app server's full JID")
    p.add_argument("--app-password", required=True)
    p.add_argument("--alice", required=True)
    p.add_argument("--alice-password", required=True)
    p.add_argument("--bob", required=True, help="the offline callee")
    p.add_argument("--sid", default="push-call-1")
    p.add_argument("--body", default="the secret plan")
    common.run(scenario, p.parse_args())


if __name__ == "__main__":
    main()

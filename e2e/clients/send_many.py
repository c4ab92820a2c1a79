#!/usr/bin/python3
"""One user sends many chat messages in a tight loop, then pings the server.

    send_many.py --port P --jid alice@localhost --password pw
        --to bob@localhost --bodies FILE [--id-prefix m-] [--presence]

FILE is a JSON array of strings (UTF-8): message i (counting from 1) gets
body FILE[i-1] and id PREFIX + i. All messages go out as type "chat" to
--to without waiting in between; then the script sends a XEP-0199 ping to
the server and waits for its answer. ringd handles a session's stanzas in
order, so when the answer (iq_result) comes, every message has been routed
(for an offline recipient: stored or refused), and every message error it
caused has arrived before it: each is reported as a "message" event with
type "error", the id of the refused message, condition and error_type.

With --presence the user sends initial presence (and waits for it to come
back) before sending. Events carry client "c"; "sent" reports the count.
"""

import json

import common


async def scenario(events, args, clients):
    with open(args.bodies, encoding="utf-8") as f:
        bodies = json.load(f)
    c = common.new_client(events, args, clients, "c", args.jid, args.password)
    await c.start()
    if args.presence:
        await c.available()
    for i, body in enumerate(bodies, start=1):
        msg = c.make_message(mto=args.to, mbody=body, mtype="chat")
        msg["id"] = "%s%d" % (args.id_prefix, i)
        msg.send()
    events.emit("sent", client="c", count=len(bodies))
    await c.ping_server()
    await c.stop()


def main():
    p = common.parser(__doc__.split("\n")[0])
    p.add_argument("--jid", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--to", required=True, help="where the messages go (bare or full JID)")
    p.add_argument("--bodies", required=True, metavar="FILE", help="JSON array of message bodies")
    p.add_argument("--id-prefix", default="m-", help="message i gets id PREFIX + i")
    p.add_argument("--presence", action="store_true", help="send initial presence first")
    common.run(scenario, p.parse_args())


if __name__ == "__main__":
    main()

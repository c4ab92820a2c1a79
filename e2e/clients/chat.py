#!/usr/bin/python3
"""Chat messages between two online users (RFC 6121 §5, §8.5).

    chat.py --port P --alice alice@localhost --alice-password pw1
        --bob bob@localhost --bob-password pw2
        --message alice:bare:hello --message bob:full:hi ...

Both log in, fetch their rosters and send initial presence (so that a
message to the bare JID has an available resource to go to). Then each
--message SENDER:TARGET:BODY is sent in order, as type "chat", from SENDER
(alice or bob) to the other user's TARGET address (bare or full JID), and
the script waits until the other side has received it. The body may contain
any text, colons included. Events carry client "alice" or "bob".
"""

import common


def parse_message(spec):
    sender, target, body = spec.split(":", 2)
    if sender not in ("alice", "bob") or target not in ("bare", "full"):
        raise ValueError("want SENDER:TARGET:BODY with SENDER alice|bob and TARGET bare|full, got %r" % spec)
    return sender, target, body


async def scenario(events, args, clients):
    users = {
        "alice": common.new_client(events, args, clients, "alice", args.alice, args.alice_password),
        "bob": common.new_client(events, args, clients, "bob", args.bob, args.bob_password),
    }
    for c in users.values():
        await c.start()
        await c.fetch_roster()
        mark = events.mark()
        c.send_presence()
        # Our own available presence coming back says the server took it.
        await events.expect({"event": "presence", "client": c.label, "from": str(c.boundjid),
                             "type": "available"}, since=mark)

    for sender, target, body in args.message:
        src = users[sender]
        dst = users["bob" if sender == "alice" else "alice"]
        to = dst.boundjid.bare if target == "bare" else dst.boundjid.full
        mark = events.mark()
        src.send_message(mto=to, mbody=body, mtype="chat")
        await events.expect({"event": "message", "client": dst.label, "body": body}, since=mark)

    for c in users.values():
        await c.stop()


def main():
    p = common.parser(__doc__.split("\n")[0])
    p.add_argument("--alice", required=True, help="bare JID of the first user")
    p.add_argument("--alice-password", required=True)
    p.add_argument("--bob", required=True, help="bare JID of the second user")
    p.add_argument("--bob-password", required=True)
    p.add_argument("--message", type=parse_message, action="append", default=[], metavar="SENDER:TARGET:BODY")
    common.run(scenario, p.parse_args())


if __name__ == "__main__":
    main()

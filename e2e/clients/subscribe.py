#!/usr/bin/python3
"""Mutual presence subscription and presence broadcast (RFC 6121 §3, §4).

    subscribe.py --port P --alice alice@localhost --alice-password pw1
        --bob bob@localhost --bob-password pw2 --status "Out to lunch"

Both users log in, fetch their rosters and send initial presence. Then:

 1. alice subscribes to bob; bob approves (subscribed);
 2. bob subscribes to alice; alice approves;
 3. both wait for the roster push that says subscription "both";
 4. alice sends presence with --status; bob waits to see it from alice's
    full JID;
 5. alice disconnects; bob waits for her unavailable presence;
 6. bob disconnects.

Each step waits for the stanza the previous one must cause, so the run is
deterministic. Events carry client "alice" or "bob".
"""

import common


def subscription_is(jid, want):
    def check(ev):
        return any(i["jid"] == jid and i["subscription"] == want for i in ev.get("items", []))
    return check


async def handshake(events, user, contact):
    """user subscribes to contact's presence; contact approves."""
    mark = events.mark()
    user.send_presence_subscription(pto=contact.boundjid.bare, ptype="subscribe")
    await events.expect({"event": "presence", "client": contact.label, "type": "subscribe",
                         "from": user.boundjid.bare}, since=mark)
    contact.send_presence_subscription(pto=user.boundjid.bare, ptype="subscribed")
    await events.expect({"event": "presence", "client": user.label, "type": "subscribed",
                         "from": contact.boundjid.bare}, since=mark)


async def scenario(events, args, clients):
    alice = common.new_client(events, args, clients, "alice", args.alice, args.alice_password)
    bob = common.new_client(events, args, clients, "bob", args.bob, args.bob_password)
    for c in (alice, bob):
        await c.start()
        await c.fetch_roster()
        mark = events.mark()
        c.send_presence()
        await events.expect({"event": "presence", "client": c.label, "from": str(c.boundjid),
                             "type": "available"}, since=mark)

    mark = events.mark()
    await handshake(events, alice, bob)
    await handshake(events, bob, alice)
    await events.expect({"event": "roster_push", "client": "alice"}, since=mark,
                        check=subscription_is(bob.boundjid.bare, "both"))
    await events.expect({"event": "roster_push", "client": "bob"}, since=mark,
                        check=subscription_is(alice.boundjid.bare, "both"))

    mark = events.mark()
    alice.send_presence(pstatus=args.status)
    await events.expect({"event": "presence", "client": "bob", "from": str(alice.boundjid),
                         "type": "available", "status": args.status}, since=mark)

    mark = events.mark()
    alice_full = str(alice.boundjid)
    await alice.stop()
    await events.expect({"event": "presence", "client": "bob", "from": alice_full,
                         "type": "unavailable"}, since=mark)
    await bob.stop()


def main():
    p = common.parser(__doc__.split("\n")[0])
    p.add_argument("--alice", required=True, help="bare JID of the first user")
    p.add_argument("--alice-password", required=True)
    p.add_argument("--bob", required=True, help="bare JID of the second user")
    p.add_argument("--bob-password", required=True)
    p.add_argument("--status", default="available", help="status text alice broadcasts")
    common.run(scenario, p.parse_args())


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""A call to an offline callee across a server crash: one side per run.

    call_restart.py --port P --phase propose --alice alice@localhost
        --alice-password pw --bob bob@localhost [--sid ID]
    call_restart.py --port P --phase login --bob bob@localhost
        --bob-password pw [--sid ID]
    call_restart.py --port P --phase ring --alice alice@localhost
        --alice-password pw --bob bob@localhost --bob-password pw [--sid ID]

propose  alice (ALICE/desk) logs in, becomes available and calls bob's
         bare JID (propose --sid), who has no device online, so the offer
         is stored. A ping round trip later it is stored; the script
         reports "proposed" and waits for a line on stdin (meanwhile the
         test kills the server, so alice is disconnected), then ends.
login    bob's phone (BOB/phone) logs in and becomes available, which
         delivers what was stored; it waits for the offer and for what
         ends it (retract or finish of --sid), pings the server so that
         anything else delivered has arrived, and logs out. Then a second
         device (BOB/tablet) does the same and must get nothing: the pair
         was delivered once.
ring     the restarted server's ring timer takes over: alice's proposing
         resource (ALICE/desk) logs in again and becomes available; then
         bob's phone logs in, becomes available and gets the stored offer
         (it rings); it waits for the retract of --sid, alice for the
         reject of --sid, and a ping round trip from both lets anything
         else arrive. The phone logs out, and a second device
         (BOB/tablet) logs in and must get nothing.

See call_lib.py and common.py for the events; a stored call message comes
with its XEP-0203 delays.
"""

import call_lib
import common


async def propose(events, args, clients):
    alice = call_lib.CallClient(events, args, "alice", args.alice + "/desk", args.alice_password)
    clients.append(alice)
    await call_lib.connect_all([alice])
    alice.propose(args.bob, args.sid)
    await alice.ping_server()
    events.emit("proposed", client="alice")
    events.waiting_for = "a line on stdin"
    await common.read_stdin_line()
    events.waiting_for = None
    await alice.stop()


async def login(events, args, clients):
    phone = call_lib.CallClient(events, args, "phone", args.bob + "/phone", args.bob_password)
    clients.append(phone)
    await phone.start()
    await phone.available_prio(1)
    await events.expect({"event": "jmi", "client": "phone", "what": "propose", "id": args.sid})
    await events.expect({"event": "jmi", "client": "phone", "id": args.sid},
                        check=lambda e: e.get("what") in ("retract", "finish"),
                        what="the end of call %s" % args.sid)
    await call_lib.settle(events, [phone], [])
    await phone.stop()

    tablet = call_lib.CallClient(events, args, "tablet", args.bob + "/tablet", args.bob_password)
    clients.append(tablet)
    await tablet.start()
    await tablet.available_prio(1)
    await call_lib.settle(events, [tablet], [])
    await tablet.stop()


async def ring(events, args, clients):
    alice = call_lib.CallClient(events, args, "alice", args.alice + "/desk", args.alice_password)
    phone = call_lib.CallClient(events, args, "phone", args.bob + "/phone", args.bob_password)
    clients.extend([alice, phone])
    await call_lib.connect_all([alice])
    await phone.start()
    await phone.available_prio(1)
    await events.expect({"event": "jmi", "client": "phone", "what": "propose", "id": args.sid})
    await events.expect({"event": "jmi", "client": "phone", "what": "retract", "id": args.sid})
    await events.expect({"event": "jmi", "client": "alice", "what": "reject", "id": args.sid})
    await call_lib.settle(events, [alice, phone], [alice, phone])
    await phone.stop()

    tablet = call_lib.CallClient(events, args, "tablet", args.bob + "/tablet", args.bob_password)
    clients.append(tablet)
    await tablet.start()
    await tablet.available_prio(1)
    await call_lib.settle(events, [tablet], [alice])
    await tablet.stop()
    await alice.stop()


async def scenario(events, args, clients):
    if args.phase == "propose":
        await propose(events, args, clients)
    elif args.phase == "ring":
        await ring(events, args, clients)
    else:
        await login(events, args, clients)


def main():
    p = common.parser(__doc__.split("\n")[0])
    p.add_argument("--phase", required=True, choices=("propose", "login", "ring"))
    p.add_argument("--alice")
    p.add_argument("--alice-password")
    p.add_argument("--bob", required=True)
    p.add_argument("--bob-password")
    p.add_argument("--sid", default="call-1")
    common.run(scenario, p.parse_args())


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Log in, become available, and collect what the server has kept for us.

    receive.py --port P --jid bob@localhost --password pw
        [--expect N] [--relogin]

Logs in, fetches the roster and sends initial presence, which makes the
server deliver stored offline messages (XEP-0160) and subscription requests
(RFC 6121 §3.1.3). Waits until N messages (of any type but error) have
arrived, then pings the server: ringd handles a session's stanzas in
order, so everything initial presence triggered (a duplicate included) has
arrived before the ping's answer. Then logs out.

With --relogin it then logs in again as a second client, sends initial
presence and pings the server the same way, so that anything the server
delivers a second time shows up under that client.

Every stanza is reported as it arrives ("message" with body, id and the
XEP-0203 delays; "presence"). Events carry client "first" and, with
--relogin, "second".
"""

import common


async def session(events, args, clients, label, expect):
    c = common.new_client(events, args, clients, label, args.jid, args.password)
    await c.start()
    await c.fetch_roster()
    mark = events.mark()
    await c.available()
    if expect > 0:
        got = await events.expect_n({"event": "message", "client": label}, expect, since=mark,
                                    check=lambda r: r.get("type") != "error")
        events.emit("received", client=label, count=len(got))
    await c.ping_server()
    await c.stop()


async def scenario(events, args, clients):
    await session(events, args, clients, "first", args.expect)
    if args.relogin:
        await session(events, args, clients, "second", 0)


def main():
    p = common.parser(__doc__.split("\n")[0])
    p.add_argument("--jid", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--expect", type=int, default=0, metavar="N", help="wait for N messages before the ping")
    p.add_argument("--relogin", action="store_true", help="then log in again and report what arrives")
    common.run(scenario, p.parse_args())


if __name__ == "__main__":
    main()

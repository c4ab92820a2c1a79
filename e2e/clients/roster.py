#!/usr/bin/python3
"""Roster set on one resource, push to another (RFC 6121 §2.1.6, §2.3).

    roster.py --port P --jid alice@localhost --password pw
        --contact bob@localhost --name Bob --group Friends [--group Work]

Resource B logs in and fetches its roster (which makes it an "interested
resource"); then resource A logs in, fetches its roster, sets the item
(contact, name, groups), waits for the roster push on both resources and
fetches the roster again. Events carry client "A" or "B".
"""

import common


async def scenario(events, args, clients):
    a = common.new_client(events, args, clients, "A", args.jid + "/res-a", args.password)
    b = common.new_client(events, args, clients, "B", args.jid + "/res-b", args.password)
    await b.start()
    await b.fetch_roster()
    await a.start()
    await a.fetch_roster()

    mark = events.mark()
    if await a.set_roster_item(args.contact, args.name, args.group) is None:
        raise common.ScenarioFailed("A: roster set failed")

    def has_contact(ev):
        return any(item["jid"] == args.contact for item in ev.get("items", []))

    for label in ("B", "A"):
        await events.expect({"event": "roster_push", "client": label}, since=mark, check=has_contact)
    await a.fetch_roster()
    await a.stop()
    await b.stop()


def main():
    p = common.parser(__doc__.split("\n")[0])
    p.add_argument("--jid", required=True, help="bare JID of the account")
    p.add_argument("--password", required=True)
    p.add_argument("--contact", required=True, help="bare JID of the roster item to set")
    p.add_argument("--name", default="", help="the item's name")
    p.add_argument("--group", action="append", default=[], help="a group of the item (repeatable)")
    common.run(scenario, p.parse_args())


if __name__ == "__main__":
    main()

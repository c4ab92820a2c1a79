#!/usr/bin/python3
"""Send one IQ with a raw XML payload and report the answer.

    iq.py --port P --jid alice@localhost --password pw
        --payload "<query xmlns='urn:example:nope'/>" [--to localhost] [--type get]

Reports iq_result, or iq_error with the error condition and type. --to
defaults to the account's domain (the server itself).
"""

import common


async def scenario(events, args, clients):
    c = common.new_client(events, args, clients, "c", args.jid, args.password)
    await c.start()
    await c.iq("payload", args.type, args.payload, to=args.to or c.boundjid.domain)
    await c.stop()


def main():
    p = common.parser(__doc__.split("\n")[0])
    p.add_argument("--jid", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--payload", required=True, help="the IQ's child element, as XML")
    p.add_argument("--to", help="the IQ's to address (default: the server's domain)")
    p.add_argument("--type", default="get", choices=("get", "set"))
    common.run(scenario, p.parse_args())


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Stream management (XEP-0198): a connection cut with messages in flight,
then resumed.

    sm_resume.py --port P --jid bob@localhost --password pw
        --sender alice@localhost --sender-password pw
        [--count N] [--cut-after K]

The receiver (--jid) logs in with slixmpp's XEP-0198 plugin, which enables
stream management with resumption after binding. The sender logs in and
sends K chat messages (bodies "msg-1" …) to the receiver's full JID. When
the receiver handles the K-th, the sender sends the other N-K in a tight
loop and the receiver aborts its TCP connection at once: no
</stream:stream>, no goodbye, so those messages are in flight (the server
writes some into the dead connection before it notices, and queues the
rest for the hibernating session). Once the sender's ping proves every
message was routed, the receiver connects again and resumes the stream
with the h it counted; the server re-sends what it had not acknowledged.
The receiver then waits until it has N messages in all and pings the
server: ringd writes the re-sent stanzas first, so any duplicate would
arrive before the answer.

Events: "sm_enabled" (id: the resumption id), "cut" (count: messages
handled on the first connection), "sm_resumed" (count: messages handled
before it), "sm_failed", "received" (count: all messages), plus the usual
message events. Clients are "receiver" and "sender".
"""

import asyncio

import common


async def scenario(events, args, clients):
    receiver = common.new_client(events, args, clients, "receiver", args.jid, args.password)
    receiver.register_plugin("xep_0198")
    state = {"connection": 1, "handled": 0}
    sender = common.new_client(events, args, clients, "sender", args.sender, args.sender_password)

    def send(first, last):
        for i in range(first, last + 1):
            m = sender.make_message(mto=receiver.boundjid.full, mbody="msg-%d" % i, mtype="chat")
            m["id"] = "%s%d" % (args.id_prefix, i)
            m.send()

    def on_enabled(stanza):
        events.emit("sm_enabled", client="receiver", id=stanza["id"] or None)

    def on_resumed(stanza):
        events.emit("sm_resumed", client="receiver", count=state["handled"])

    def on_failed(stanza):
        cond = stanza.xml[0].tag.split("}")[-1] if len(stanza.xml) else None
        events.emit("sm_failed", client="receiver", condition=cond)

    def on_message(msg):
        # Runs after common.Client's handler has reported the message, in
        # the same pass over the received data as XEP-0198's counter.
        if msg["type"] == "error":
            return
        state["handled"] += 1
        if state["connection"] == 1 and state["handled"] == args.cut_after:
            state["connection"] = 2
            send(args.cut_after + 1, args.count)
            events.emit("cut", client="receiver", count=state["handled"])
            receiver.transport.abort()

    receiver.add_event_handler("sm_enabled", on_enabled)
    receiver.add_event_handler("session_resumed", on_resumed)
    receiver.add_event_handler("sm_failed", on_failed)
    receiver.add_event_handler("message", on_message)

    mark = events.mark()
    await receiver.start()
    enabled = await events.expect({"event": "sm_enabled", "client": "receiver"}, since=mark)
    if not enabled.get("id"):
        raise common.ScenarioFailed("stream management enabled without resumption")

    await sender.start()
    send(1, args.cut_after)
    await events.expect({"event": "cut", "client": "receiver"})
    await events.expect({"event": "disconnected", "client": "receiver"}, since=mark)
    await sender.ping_server()  # every message has been routed by now

    mark = events.mark()
    direct = args.direct_tls
    receiver.connect((args.host, args.port), use_ssl=direct, force_starttls=not direct,
                     disable_starttls=False)
    got = await events.expect({"client": "receiver"}, since=mark,
                              check=lambda r: r["event"] in ("sm_resumed", "sm_failed", "session_start"),
                              what="sm_resumed (or sm_failed)")
    if got["event"] != "sm_resumed":
        raise common.ScenarioFailed("not resumed: %s" % got["event"])
    await events.expect_n({"event": "message", "client": "receiver"}, args.count,
                          check=lambda r: r.get("type") != "error")
    await receiver.ping_server()
    events.emit("received", client="receiver", count=state["handled"])
    await sender.stop()
    await receiver.stop()


def main():
    p = common.parser(__doc__.split("\n")[0])
    p.add_argument("--jid", required=True, help="the receiver, which is cut off and resumes")
    p.add_argument("--password", required=True)
    p.add_argument("--sender", required=True)
    p.add_argument("--sender-password", required=True)
    p.add_argument("--count", type=int, default=50, metavar="N", help="messages to send")
    p.add_argument("--cut-after", type=int, default=5, metavar="K", help="cut the connection after K messages")
    p.add_argument("--id-prefix", default="m-", help="message i gets id PREFIX + i (unique per run: the server deduplicates retries by id)")
    common.run(scenario, p.parse_args())


if __name__ == "__main__":
    main()

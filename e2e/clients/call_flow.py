#!/usr/bin/python3
"""A XEP-0353 call from alice to bob's two devices, in one of several ways.

    call_flow.py --port P --alice alice@localhost --alice-password pw
        --bob bob@localhost --bob-password pw --scenario NAME
        [--sid ID] [--carbons] [--order alice-first|bob-first|together]

One process drives three clients so that what each does happens in a known
order: "alice" (ALICE/desk, priority 0), "phone" (BOB/phone, priority 1)
and "laptop" (BOB/laptop, priority -1: XEP-0353 calls must ring devices
with negative priorities too). Each step waits for what the previous one
must cause; at the end settle() pings the server from every client, so
that anything else the server routed has arrived (see call_lib.py). Then
the Go test asserts on the jmi and jingle events of each client, in order.

Scenarios (alice calls bob's bare JID with call id --sid, unless said):

    answer          phone rings (ringing to alice), then proceeds; laptop
                    must learn it. With --carbons, laptop has carbons on;
                    with --answer-to-bare, ringing and proceed go to alice's
                    bare JID (give her --alice-priority -1 to see that
                    they still reach her).
                    Then a Jingle session alice ↔ phone: session-initiate
                    (RTP opus, ICE-UDP), session-accept, session-terminate,
                    each answered; and a session-initiate to BOB/gone.
    reject          laptop rejects (busy); phone must learn it.
    cancel          alice retracts before anyone answers. With
                    --laptop-away, laptop sends unavailable presence first
                    (still bound): the retract must reach it all the same.
    offline-cancel  bob has no device: alice proposes and retracts; then
                    phone logs in and gets both (a missed call).
    glare           alice calls bob (id --alice-id) and phone calls alice
                    (id --bob-id): --order alice-first (alice's call rings
                    before phone's is sent), bob-first, or together (same
                    moment). Then the callee of the call that must survive
                    (XEP-0353: the lower id, or the lower JID) proceeds.
    duplicate       alice sends the same propose three times (stanza ids
                    dup-1, dup-1, dup-2).
    timeout         nobody answers: wait for the server's ring timeout.
    offline-timeout as offline-cancel, but alice waits for the ring
                    timeout instead of retracting.

See call_lib.py and common.py for the event format.
"""

import asyncio

import call_lib
import common

RTP_ICE = """
<jingle xmlns='urn:xmpp:jingle:1' action='session-initiate' initiator='{initiator}' sid='{sid}'>
  <content creator='initiator' name='voice' senders='both'>
    <description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio' ssrc='3735928559'>
      <payload-type id='111' name='opus' clockrate='48000' channels='2'>
        <parameter name='minptime' value='10'/>
        <parameter name='useinbandfec' value='1'/>
        <rtcp-fb xmlns='urn:xmpp:jingle:apps:rtp:rtcp-fb:0' type='transport-cc'/>
      </payload-type>
      <payload-type id='0' name='PCMU' clockrate='8000'/>
      <rtp-hdrext xmlns='urn:xmpp:jingle:apps:rtp:rtp-hdrext:0' id='1'
          uri='urn:ietf:params:rtp-hdrext:ssrc-audio-level'/>
      <source xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' ssrc='3735928559'>
        <parameter name='cname' value='{{a&amp;b&lt;c&gt;&quot;d&apos;}}'/>
      </source>
      <rtcp-mux/>
    </description>
    <transport xmlns='urn:xmpp:jingle:transports:ice-udp:1' ufrag='8hhy' pwd='asd88fgpdd777uzjYhagZg'>
      <fingerprint xmlns='urn:xmpp:jingle:apps:dtls:0' hash='sha-256'
          setup='{setup}'>02:1A:CC:54:27:AB:EB:9C:53:3F:3E:4B:65:2E:7D:46:3F:54:42:CD:54:F1:7A:03:A2:7D:F9:B0:7F:46:19:B2</fingerprint>
      <candidate component='1' foundation='1' generation='0' id='el0747fg11' ip='10.0.1.1'
          network='1' port='8998' priority='2130706431' protocol='udp' type='host'/>
      <candidate component='1' foundation='2' generation='0' id='y3s2b30v3r' ip='192.0.2.3'
          network='1' port='45664' priority='1694498815' protocol='udp' rel-addr='10.0.1.1'
          rel-port='8998' type='srflx'/>
      <candidate component='1' foundation='3' generation='0' id='ipv6cand1' ip='2001:db8::9'
          network='2' port='50000' priority='2130706175' protocol='udp' type='host'/>
    </transport>
  </content>
  <group xmlns='urn:xmpp:jingle:apps:grouping:0' semantics='BUNDLE'><content name='voice'/></group>
</jingle>
"""

TERMINATE = """
<jingle xmlns='urn:xmpp:jingle:1' action='session-terminate' sid='{sid}'>
  <reason><success/><text>Bye &lt;3 &amp; ciao \U0001F44B</text></reason>
</jingle>
"""


def session_initiate(sid, initiator):
    return RTP_ICE.format(sid=sid, initiator=initiator, setup="actpass")


def session_accept(sid, initiator, responder):
    xml = RTP_ICE.format(sid=sid, initiator=initiator, setup="active")
    return xml.replace("action='session-initiate'", "action='session-accept' responder='%s'" % responder, 1)


def jmi_wait(events, label, what, sid, since=0, **more):
    want = {"event": "jmi", "client": label, "what": what, "id": sid}
    want.update(more)
    return events.expect(want, since=since)


async def scenario(events, args, clients):
    alice = call_lib.CallClient(events, args, "alice", args.alice + "/desk", args.alice_password)
    phone = call_lib.CallClient(events, args, "phone", args.bob + "/phone", args.bob_password)
    laptop = call_lib.CallClient(events, args, "laptop", args.bob + "/laptop", args.bob_password)
    prio = {"alice": args.alice_priority, "phone": 1, "laptop": -1}
    sid, bob, everyone = args.sid, args.bob, [alice, phone, laptop]

    if args.scenario in ("offline-cancel", "offline-timeout"):
        clients.append(alice)
        await call_lib.connect_all([alice])
        alice.propose(bob, sid)
        if args.scenario == "offline-cancel":
            alice.send_jmi(bob, "retract", sid, "<reason xmlns='urn:xmpp:jingle:1'><cancel/></reason>")
        else:
            # The server stores its retract before it tells alice.
            await jmi_wait(events, "alice", "reject", sid, condition="timeout")
        await call_lib.settle(events, [alice], [])
        clients.append(phone)
        await phone.start()
        await phone.available_prio(1)
        await jmi_wait(events, "phone", "retract", sid)
        await call_lib.settle(events, [phone], [phone, alice])
        await asyncio.gather(alice.stop(), phone.stop())
        return

    clients.extend(everyone)
    await call_lib.connect_all(everyone, prio)
    if args.carbons:
        await laptop.enable_carbons()
    alice_full, phone_full = str(alice.boundjid), str(phone.boundjid)

    if args.scenario == "glare":
        await glare(events, args, alice, phone, laptop)
        await asyncio.gather(*(c.stop() for c in everyone))
        return

    if args.scenario == "duplicate":
        alice.propose(bob, sid, stanza_id="dup-1")
        alice.propose(bob, sid, stanza_id="dup-1")
        alice.propose(bob, sid, stanza_id="dup-2")
    else:
        alice.propose(bob, sid)
    await jmi_wait(events, "phone", "propose", sid)
    await jmi_wait(events, "laptop", "propose", sid)

    if args.scenario == "answer":
        mark = events.mark()
        caller = args.alice if args.answer_to_bare else alice_full
        phone.send_jmi(caller, "ringing", sid)
        await jmi_wait(events, "alice", "ringing", sid, since=mark)
        phone.send_jmi(caller, "proceed", sid)
        await jmi_wait(events, "alice", "proceed", sid, since=mark)
        await jmi_wait(events, "laptop", "proceed", sid, since=mark)
        await call_lib.settle(events, [alice, phone], everyone)
        # The Jingle session, between full JIDs.
        await must(alice.jingle(phone_full, session_initiate(sid, alice_full)))
        await must(phone.jingle(alice_full, session_accept(sid, alice_full, phone_full)))
        await must(alice.jingle(phone_full, TERMINATE.format(sid=sid)))
        await alice.jingle(bob + "/gone", session_initiate(sid + "-gone", alice_full))
    elif args.scenario == "reject":
        mark = events.mark()
        laptop.send_jmi(alice_full, "reject", sid, "<reason xmlns='urn:xmpp:jingle:1'><busy/></reason>")
        await jmi_wait(events, "alice", "reject", sid, since=mark)
        await jmi_wait(events, "phone", "reject", sid, since=mark)
    elif args.scenario == "cancel":
        if args.laptop_away:
            laptop.send_presence(ptype="unavailable")
            await call_lib.settle(events, [laptop], everyone)
        mark = events.mark()
        alice.send_jmi(bob, "retract", sid, "<reason xmlns='urn:xmpp:jingle:1'><cancel/></reason>")
        await jmi_wait(events, "phone", "retract", sid, since=mark)
        await jmi_wait(events, "laptop", "retract", sid, since=mark)
    elif args.scenario == "timeout":
        await jmi_wait(events, "phone", "retract", sid, condition="timeout")
        await jmi_wait(events, "laptop", "retract", sid, condition="timeout")
        await jmi_wait(events, "alice", "reject", sid, condition="timeout")
    elif args.scenario != "duplicate":
        raise common.ScenarioFailed("unknown scenario %r" % args.scenario)
    await call_lib.settle(events, [alice, phone, laptop], everyone)
    await asyncio.gather(*(c.stop() for c in everyone))


async def must(answer):
    if await answer is None:
        raise common.ScenarioFailed("a Jingle IQ was refused")


async def glare(events, args, alice, phone, laptop):
    """Both sides call each other, alice with id --alice-id, phone with
    --bob-id; then the callee of the call that must survive answers it."""
    aid, bid, everyone = args.alice_id, args.bob_id, [alice, phone, laptop]
    if args.order == "alice-first":
        alice.propose(args.bob, aid)
        await jmi_wait(events, "phone", "propose", aid)
        await jmi_wait(events, "laptop", "propose", aid)
        phone.propose(args.alice, bid)
    elif args.order == "bob-first":
        phone.propose(args.alice, bid)
        await jmi_wait(events, "alice", "propose", bid)
        alice.propose(args.bob, aid)
    else:
        alice.propose(args.bob, aid)
        phone.propose(args.alice, bid)
    await call_lib.settle(events, [alice, phone], everyone)
    # XEP-0353: the lower id ("i;octet"), for equal ids the lower JID.
    mark = events.mark()
    if (aid.encode(), args.alice.encode()) < (bid.encode(), args.bob.encode()):
        phone.send_jmi(str(alice.boundjid), "proceed", aid)
        await jmi_wait(events, "alice", "proceed", aid, since=mark)
        await jmi_wait(events, "laptop", "proceed", aid, since=mark)
    else:
        alice.send_jmi(str(phone.boundjid), "proceed", bid)
        await jmi_wait(events, "phone", "proceed", bid, since=mark)
    await call_lib.settle(events, [alice, phone], everyone)


def main():
    p = common.parser(__doc__.split("\n")[0])
    p.add_argument("--alice", required=True)
    p.add_argument("--alice-password", required=True)
    p.add_argument("--bob", required=True)
    p.add_argument("--bob-password", required=True)
    p.add_argument("--scenario", required=True,
                   choices=("answer", "reject", "cancel", "offline-cancel", "glare", "duplicate", "timeout",
                            "offline-timeout"))
    p.add_argument("--sid", default="call-1", help="the call id (propose id, Jingle sid)")
    p.add_argument("--carbons", action="store_true", help="laptop enables carbons (XEP-0280) first")
    p.add_argument("--laptop-away", action="store_true", help="cancel: laptop goes unavailable while ringing")
    p.add_argument("--alice-priority", type=int, default=0, help="the priority of alice's presence")
    p.add_argument("--answer-to-bare", action="store_true",
                   help="answer: phone sends ringing and proceed to alice's bare JID, not her full JID")
    p.add_argument("--order", default="together", choices=("alice-first", "bob-first", "together"))
    p.add_argument("--alice-id", default="zzz", help="glare: the id of alice's call")
    p.add_argument("--bob-id", default="aaa", help="glare: the id of phone's call")
    common.run(scenario, p.parse_args())


if __name__ == "__main__":
    main()

"""Call plumbing shared by the call_*.py and push_*.py scenario scripts.

CallClient is common.Client plus what a calling device sees and does:

    jmi            a XEP-0353 element arrived (directly in a message, or in
                   a XEP-0280 <sent/>/<received/> carbon): what (propose,
                   ringing, proceed, reject, retract, finish, accept), id
                   (the call id, the element's id attribute), from, to and
                   type (of the message that carries the element, the inner
                   one for a carbon), condition (the XEP-0166 reason
                   condition, e.g. timeout, expired, busy), text
                   (space-separated flags: tie-break when the element has
                   <tie-break/>, carbon-sent or carbon-received when it came
                   in a carbon), body, delays (as for "message")
    jingle         a XEP-0166 IQ set arrived (it is answered with an empty
                   result): what (the action), id (the sid), from, to, type,
                   message (the <jingle/> element in C14N 2.0 form)
    jingle_sent    we sent a XEP-0166 IQ: the same fields, message being
                   what we sent in the same form, so that a test compares it
                   with what the peer got
    settled        (settle) every ping round trip is done: every stanza the
                   server routed to these clients before has arrived

A "message" event (common.py) is also emitted for every message, before
its "jmi" event.
"""

import asyncio
import re
import xml.etree.ElementTree as StdET

import common
from slixmpp.xmlstream import ET
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

NS_JMI = ("urn:xmpp:jingle-message:0", "urn:xmpp:jingle-message:1")
NS_JINGLE = "urn:xmpp:jingle:1"
NS_CARBONS = "urn:xmpp:carbons:2"
NS_FORWARD = "urn:xmpp:forward:0"
NS_HINTS = "urn:xmpp:hints"
NS_DELAY = "urn:xmpp:delay"
NS_CLIENT = "jabber:client"

JMI_ACTIONS = ("propose", "ringing", "proceed", "reject", "retract", "finish", "accept")


def local(tag):
    """The local name of an ElementTree tag."""
    return tag.rsplit("}", 1)[-1]


def canonical(elem):
    """elem in C14N 2.0 form, so that two parses of the same XML compare
    equal whatever the prefixes and attribute order."""
    return StdET.canonicalize(StdET.tostring(elem, encoding="unicode"))


def compact(xml):
    """xml with the whitespace between tags removed."""
    return re.sub(r">\s+<", "><", xml.strip())


def jmi_child(msg_xml):
    """The XEP-0353 child of a message element, or None."""
    for ch in msg_xml:
        if ch.tag.startswith("{") and ch.tag[1:].split("}")[0] in NS_JMI and local(ch.tag) in JMI_ACTIONS:
            return ch
    return None


class CallClient(common.Client):
    """A device: reports call messages and answers Jingle IQs."""

    def __init__(self, events, args, label, jid, password):
        super().__init__(events, args, label, jid, password)
        self.register_handler(Callback("e2e jmi", MatchXPath("{%s}message" % NS_CLIENT), self._on_jmi))
        self.register_handler(Callback("e2e jingle", MatchXPath("{%s}iq/{%s}jingle" % (NS_CLIENT, NS_JINGLE)),
                                       self._on_jingle))

    # --- received -----------------------------------------------------------

    def _on_jmi(self, msg):
        outer = msg.xml
        inner, flags = outer, []
        el = jmi_child(outer)
        if el is None:
            for kind in ("sent", "received"):
                fwd = outer.find("{%s}%s/{%s}forwarded/{%s}message" % (NS_CARBONS, kind, NS_FORWARD, NS_CLIENT))
                if fwd is not None and jmi_child(fwd) is not None:
                    inner, el = fwd, jmi_child(fwd)
                    flags.append("carbon-" + kind)
                    break
        if el is None:
            return
        cond = None
        reason = el.find("{%s}reason" % NS_JINGLE)
        if reason is not None:
            for ch in reason:
                if local(ch.tag) != "text":
                    cond = local(ch.tag)
                    break
        if any(local(e.tag) == "tie-break" for e in el.iter()):
            flags.insert(0, "tie-break")
        delays = [{"from": d.get("from", ""), "stamp": d.get("stamp", "")}
                  for d in outer.findall("{%s}delay" % NS_DELAY)]
        body = inner.find("{%s}body" % NS_CLIENT)
        self.emit("jmi", what=local(el.tag), id=el.get("id"), from_=inner.get("from"), to=inner.get("to"),
                  type=inner.get("type"), condition=cond, text=" ".join(flags) or None,
                  body=body.text if body is not None else None, delays=delays or None)

    def _on_jingle(self, iq):
        if iq["type"] != "set":
            return
        j = iq.xml.find("{%s}jingle" % NS_JINGLE)
        self.emit("jingle", what=j.get("action"), id=j.get("sid"), from_=str(iq["from"]), to=str(iq["to"]),
                  type=iq["type"], message=canonical(j))
        iq.reply().send()

    # --- actions --------------------------------------------------------------

    async def available_prio(self, priority=0):
        """Sends initial presence with priority and waits until it comes
        back (common.Client.available, with a priority)."""
        mark = self.events.mark()
        self.send_presence(ppriority=priority)
        await self.events.expect({"event": "presence", "client": self.label,
                                  "from": str(self.boundjid), "type": "available"}, since=mark)

    def send_jmi(self, to, what, sid, inner="", stanza_id=None, mtype="chat"):
        """Sends a message to to carrying <what xmlns='urn:xmpp:jingle-message:0'
        id='sid'>inner</what> and a XEP-0334 store hint, as Conversations does."""
        msg = self.Message()
        msg["to"] = to
        msg["type"] = mtype
        if stanza_id:
            msg["id"] = stanza_id
        msg.append(ET.fromstring("<%s xmlns='%s' id='%s'>%s</%s>" % (what, NS_JMI[0], sid, inner, what)))
        msg.append(ET.fromstring("<store xmlns='%s'/>" % NS_HINTS))
        msg.send()

    def propose(self, to, sid, stanza_id=None):
        self.send_jmi(to, "propose", sid, "<description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'/>",
                      stanza_id=stanza_id)

    async def jingle(self, to, xml):
        """Sends the XEP-0166 IQ set whose <jingle/> is xml, reports it as
        jingle_sent, and waits for the answer (iq_result or iq_error).
        Returns the answer or None."""
        j = ET.fromstring(compact(xml))
        self.emit("jingle_sent", what=j.get("action"), id=j.get("sid"), to=to, type="set", message=canonical(j))
        iq = self.Iq()
        iq["type"] = "set"
        iq["to"] = to
        iq.append(j)
        return await self._send_iq("jingle-" + j.get("action"), iq)

    async def enable_carbons(self):
        return await self.iq("carbons", "set", "<enable xmlns='%s'/>" % NS_CARBONS)


async def connect_all(clients, priorities=None):
    """Starts every client and makes each available (with its priority
    from the dict priorities, label → priority)."""
    await asyncio.gather(*(c.start() for c in clients))
    for c in clients:
        await c.available_prio((priorities or {}).get(c.label, 0))


async def settle(events, senders, receivers):
    """Pings the server from every sender, then from every receiver: the
    senders' stanzas are routed once their pings come back (ringd handles a
    session's stanzas in order), and whatever that routing queued for a
    receiver arrives before its own ping's answer. Then nothing more can
    come, barring timers; emits settled."""
    await asyncio.gather(*(c.ping_server() for c in senders))
    await asyncio.gather(*(c.ping_server() for c in receivers))
    events.emit("settled")

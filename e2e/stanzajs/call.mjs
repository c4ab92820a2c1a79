#!/usr/bin/env node
// call.mjs — a full XEP-0353 + XEP-0166 call between StanzaJS clients over
// ringd's RFC 7395 WebSocket (ringd e2e interop, run by stanzajs_test.go).
//
// Three clients connect to --url (websocket only: no BOSH, no discovery):
// the caller alice/caller and the callee's two resources bob/phone and
// bob/laptop. All send initial presence. Then:
//
//   1. alice proposes a call to bob's bare JID (XEP-0353 <propose/> with an
//      RTP audio description and a <store/> hint); phone and laptop must
//      both get it;
//   2. phone sends <ringing/>, then <proceed/>, to alice's full JID; alice
//      must get both;
//   3. laptop must learn that the call was answered elsewhere: a copy of
//      the <proceed/> from its own account, delivered directly (how
//      "direct") or as a XEP-0280 <sent/> carbon (how "carbon", only with
//      --carbons, which makes laptop enable carbons);
//   4. alice sends session-initiate (RTP description with opus, ICE-UDP
//      transport with a host candidate and a DTLS fingerprint) to phone;
//      phone answers with an IQ result, then sends session-accept; alice
//      answers; alice sends session-terminate (reason success); phone
//      answers. Every IQ must get its result;
//   5. laptop pings the server: ringd answers in order, so when the result
//      arrives every copy of the answer that was routed to laptop has
//      arrived too. Only then is a missing copy a failure.
//
// Output: one JSON object per line on stdout, the key "event" naming it:
//   connected {client, jid}            session started
//   carbons {client}                   carbons enabled (--carbons)
//   presence {client, from, type}      every presence received
//   propose_received {client, resource, from, id, media}
//   ringing {client, from, id}         alice got <ringing/>
//   proceed {client, from, id}         alice got <proceed/>
//   answered_elsewhere {client, how, from, to, id}
//   jingle {client, action, from, sid} a Jingle IQ set received
//   iq_result {client, action, from}   a Jingle IQ set answered
//   stream_error {client, condition, text}, failed_auth {client},
//   error {message}, timeout {waiting_for}, done {ok}
// Exit status: 0 done, 1 failed, 2 timeout, 3 authentication failed
// (the same as the slixmpp scripts in ../clients).
// With --debug every XML frame is logged on stderr as
// "+MS CLIENT SEND: <…>" / "+MS CLIENT RECV: <…>".

import { parseArgs } from 'node:util';
import * as XMPP from 'stanza';

const { Namespaces: NS, JXT, JID } = XMPP;

const NS_JMI = 'urn:xmpp:jingle-message:0';
const JMI_ELEMENTS = ['propose', 'ringing', 'proceed', 'reject', 'retract', 'accept', 'finish'];

const EXIT_OK = 0;
const EXIT_FAILED = 1;
const EXIT_TIMEOUT = 2;
const EXIT_AUTH = 3;

const { values: opt } = parseArgs({
	options: {
		url: { type: 'string' },
		domain: { type: 'string', default: 'localhost' },
		alice: { type: 'string', default: 'alice@localhost' },
		'alice-password': { type: 'string' },
		bob: { type: 'string', default: 'bob@localhost' },
		'bob-password': { type: 'string' },
		sid: { type: 'string' },
		timeout: { type: 'string', default: '20' },
		carbons: { type: 'boolean', default: false },
		debug: { type: 'boolean', default: false },
	},
});
if (!opt.url || opt['alice-password'] === undefined || opt['bob-password'] === undefined) {
	process.stderr.write('usage: call.mjs --url ws://HOST:PORT/xmpp-websocket --alice-password PW --bob-password PW\n' +
		'  [--alice JID] [--bob JID] [--domain D] [--sid ID] [--timeout S] [--carbons] [--debug]\n');
	process.exit(EXIT_FAILED);
}

const started = Date.now();
const sid = opt.sid || `call-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;

function emit(event, fields = {}) {
	process.stdout.write(JSON.stringify({ event, ...fields }) + '\n');
}

function debug(line) {
	if (opt.debug) {
		process.stderr.write(`+${Date.now() - started}ms ${line}\n`);
	}
}

// ---- waiting ---------------------------------------------------------------

// Every incoming stanza is appended to `seen` (with the client that got
// it); waiters re-check their condition after each one. The script never
// sleeps: it waits for what the previous step must cause.
const seen = [];
let waiters = [];
let current = 'start';
let finished = false;

function notify() {
	waiters = waiters.filter(w => {
		const hit = seen.find(w.match);
		if (hit) {
			w.resolve(hit);
			return false;
		}
		return true;
	});
}

// expect resolves with the first seen entry that matches, now or later.
function expect(what, match) {
	current = what;
	debug(`waiting for: ${what}`);
	return new Promise(resolve => {
		waiters.push({ match, resolve });
		notify();
	});
}

function finish(code, event, fields) {
	if (finished) {
		return;
	}
	finished = true;
	// StanzaJS may still answer a stream-management <r/> that crossed its
	// <close/>, and logs the failed write: noise once the scenario is over.
	console.error = (...args) => debug(`after close: ${args.map(String).join(' ')}`);
	if (event) {
		emit(event, fields);
	}
	for (const c of clients) {
		c.autoReconnect = false;
		c.disconnect().catch(() => {});
	}
	// Let the closing frames go out; stdout is flushed before exit.
	setTimeout(() => process.exit(code), 200).unref();
	process.exitCode = code;
}

function fail(message) {
	finish(EXIT_FAILED, 'error', { message });
}

function check(cond, message) {
	if (!cond) {
		throw new Error(message);
	}
}

const hardTimeout = setTimeout(() => {
	finish(EXIT_TIMEOUT, 'timeout', { waiting_for: current });
}, Number(opt.timeout) * 1000);
hardTimeout.unref();

// ---- clients ---------------------------------------------------------------

// XEP-0353 is not in StanzaJS 12 (it has only a wrong namespace constant),
// so its elements are defined here on StanzaJS's own JXT registry: the
// message field jingleMessage {type, id, descriptions} in the same style
// as its other protocol definitions. The RTP <description/> is StanzaJS's
// XEP-0167 one, linked under <propose/>.
function defineJMI(client) {
	client.stanzas.define([
		...JMI_ELEMENTS.map(name => ({
			element: name,
			namespace: NS_JMI,
			path: 'message.jingleMessage',
			type: name,
			typeField: 'type',
			fields: { id: JXT.attribute('id') },
		})),
		{
			element: 'description',
			namespace: NS.NS_JINGLE_RTP_1,
			aliases: [{ path: 'message.jingleMessage.descriptions', multiple: true, selector: 'propose' }],
		},
	]);
}

const clients = [];

function newClient(name, jid, password, resource) {
	const client = XMPP.createClient({
		jid,
		password,
		resource,
		server: opt.domain, // no DNS or host-meta look-up: the URL is given
		transports: { websocket: opt.url, bosh: false },
		autoReconnect: false,
	});
	client.name = name;
	defineJMI(client);
	clients.push(client);

	// StanzaJS answers Jingle IQs with its own session manager, which in
	// Node (no RTCPeerConnection) would refuse any RTP session. The script
	// plays the endpoints itself, so it takes the IQs over.
	client.removeAllListeners('iq:set:jingle');
	client.on('iq:set:jingle', iq => {
		seen.push({ client: name, kind: 'jingle', stanza: iq });
		emit('jingle', { client: name, action: iq.jingle.action, from: iq.from, sid: iq.jingle.sid });
		notify();
	});

	client.on('raw:outgoing', data => debug(`${name} SEND: ${data}`));
	client.on('raw:incoming', data => debug(`${name} RECV: ${data}`));
	client.on('session:started', () => {
		emit('connected', { client: name, jid: client.jid });
		seen.push({ client: name, kind: 'connected' });
		notify();
	});
	client.on('auth:failed', () => finish(EXIT_AUTH, 'failed_auth', { client: name }));
	client.on('stream:error', err => {
		const fields = { client: name, condition: err && err.condition, text: err && err.text };
		if (!finished) {
			finish(EXIT_FAILED, 'stream_error', fields);
		}
	});
	client.on('disconnected', () => {
		if (!finished) {
			fail(`${name}: disconnected while waiting for ${current}`);
		}
	});
	client.on('presence', pres => {
		if (finished) {
			return; // the others' goodbyes
		}
		emit('presence', { client: name, from: pres.from, type: pres.type || 'available' });
		seen.push({ client: name, kind: 'presence', stanza: pres });
		notify();
	});
	client.on('message', msg => {
		seen.push({ client: name, kind: 'message', stanza: msg });
		notify();
	});
	client.on('message:error', msg => {
		const e = msg.error || {};
		fail(`${name}: message error from ${msg.from}: ${e.condition} (${e.type}) ${e.text || ''}`.trim());
	});
	return client;
}

const aliceJID = `${opt.alice}/caller`;
const phoneJID = `${opt.bob}/phone`;
const laptopJID = `${opt.bob}/laptop`;

const alice = newClient('alice', opt.alice, opt['alice-password'], 'caller');
const phone = newClient('phone', opt.bob, opt['bob-password'], 'phone');
const laptop = newClient('laptop', opt.bob, opt['bob-password'], 'laptop');

// ---- matchers --------------------------------------------------------------

const jmiOf = (m, type) => m.kind === 'message' && m.stanza.jingleMessage &&
	m.stanza.jingleMessage.type === type && m.stanza.jingleMessage.id === sid;
const gotPresence = (client, from) => m => m.client === client && m.kind === 'presence' &&
	m.stanza.from === from && (m.stanza.type || 'available') === 'available';

// sendJingle sends a Jingle IQ set and reports its result; an error
// result, or none, fails the scenario.
async function sendJingle(client, to, jingle) {
	current = `${client.name}: result of ${jingle.action}`;
	let res;
	try {
		res = await client.sendIQ({ type: 'set', to, jingle });
	} catch (err) {
		const e = (err && err.error) || {};
		throw new Error(`${client.name}: ${jingle.action} to ${to} failed: ` +
			(e.condition ? `${e.condition} (${e.type}) ${e.text || ''}`.trim() : String(err && err.message || err)));
	}
	check(res.type === 'result', `${client.name}: ${jingle.action} answered with type ${res.type}`);
	emit('iq_result', { client: client.name, action: jingle.action, from: res.from });
}

// waitJingle waits for a Jingle IQ set with action at client, checks it
// and answers it with an empty result.
async function waitJingle(client, action) {
	const hit = await expect(`${client.name}: ${action}`, m =>
		m.client === client.name && m.kind === 'jingle' && m.stanza.jingle.action === action);
	const iq = hit.stanza;
	check(iq.jingle.sid === sid, `${client.name}: ${action} with sid ${iq.jingle.sid}, want ${sid}`);
	client.sendIQResult(iq);
	return iq;
}

const rtpAudio = () => ({
	applicationType: NS.NS_JINGLE_RTP_1,
	media: 'audio',
	codecs: [
		{ id: '111', name: 'opus', clockRate: 48000, channels: 2, parameters: { minptime: '10', useinbandfec: '1' } },
		{ id: '0', name: 'PCMU', clockRate: 8000 },
	],
	rtcpMux: true,
});

const iceUdp = (ufrag, port, setup) => ({
	transportType: NS.NS_JINGLE_ICE_UDP_1,
	usernameFragment: ufrag,
	password: `${ufrag}-password-0123456789`,
	fingerprints: [{
		algorithm: 'sha-256',
		setup,
		value: '6A:1C:F4:55:3B:77:2E:90:0D:C8:15:AA:39:62:E1:4F:8B:03:D9:7E:21:C6:58:B4:90:FE:31:0A:7D:44:E8:12',
	}],
	candidates: [{
		component: 1, foundation: '1', generation: 0, id: `${ufrag}-c1`, ip: '127.0.0.1',
		network: 0, port, priority: 2130706431, protocol: 'udp', type: 'host',
	}],
});

// checkContent asserts that a received Jingle RTP/ICE-UDP content arrived
// intact: ringd must route the payload byte for byte.
function checkContent(who, jingle, port, setup) {
	const c = (jingle.contents || [])[0];
	check(c && c.name === 'audio', `${who}: no content 'audio' in ${JSON.stringify(jingle)}`);
	const app = c.application || {};
	check(app.applicationType === NS.NS_JINGLE_RTP_1 && app.media === 'audio', `${who}: RTP audio description lost: ${JSON.stringify(app)}`);
	const opus = (app.codecs || []).find(p => p.name === 'opus');
	check(opus && opus.id === '111' && opus.clockRate === 48000 && opus.channels === 2 &&
		opus.parameters && opus.parameters.useinbandfec === '1', `${who}: opus payload type lost: ${JSON.stringify(app.codecs)}`);
	const tr = c.transport || {};
	check(tr.transportType === NS.NS_JINGLE_ICE_UDP_1, `${who}: ICE-UDP transport lost: ${JSON.stringify(tr)}`);
	const cand = (tr.candidates || [])[0];
	check(cand && cand.ip === '127.0.0.1' && cand.port === port && cand.type === 'host' && cand.protocol === 'udp',
		`${who}: ICE candidate lost: ${JSON.stringify(tr.candidates)}`);
	const fp = (tr.fingerprints || [])[0];
	check(fp && fp.algorithm === 'sha-256' && fp.setup === setup && /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/.test(fp.value || ''),
		`${who}: DTLS fingerprint lost: ${JSON.stringify(tr.fingerprints)}`);
}

// ---- the scenario ----------------------------------------------------------

async function scenario() {
	for (const c of clients) {
		c.connect();
	}
	await Promise.all(clients.map(c => expect(`${c.name}: session started`, m => m.client === c.name && m.kind === 'connected')));

	if (opt.carbons) {
		current = 'laptop: carbons enabled';
		await laptop.enableCarbons();
		emit('carbons', { client: 'laptop' });
	}

	// Initial presence. ringd sends each session its own presence back and
	// bob's resources each other's (RFC 6121 §4.2.2): when these arrived,
	// all three are available.
	for (const c of clients) {
		c.sendPresence();
	}
	await expect('alice: own presence', gotPresence('alice', aliceJID));
	await expect('phone: own presence', gotPresence('phone', phoneJID));
	await expect('laptop: own presence', gotPresence('laptop', laptopJID));
	await expect('phone: presence of bob/laptop', gotPresence('phone', laptopJID));
	await expect('laptop: presence of bob/phone', gotPresence('laptop', phoneJID));

	// 1. The offer rings both of bob's resources.
	alice.sendMessage({
		to: opt.bob,
		type: 'chat',
		id: `propose-${sid}`,
		jingleMessage: { type: 'propose', id: sid, descriptions: [{ applicationType: NS.NS_JINGLE_RTP_1, media: 'audio' }] },
		processingHints: { store: true },
	});
	for (const [c, resource] of [[phone, 'phone'], [laptop, 'laptop']]) {
		const hit = await expect(`${resource}: <propose/>`, m => m.client === c.name && jmiOf(m, 'propose'));
		const msg = hit.stanza;
		const media = (msg.jingleMessage.descriptions || []).map(d => d.media).join(',');
		emit('propose_received', { client: c.name, resource, from: msg.from, id: msg.jingleMessage.id, media });
		check(msg.from === aliceJID, `${resource}: propose from ${msg.from}, want ${aliceJID}`);
		check(media === 'audio', `${resource}: propose descriptions ${JSON.stringify(msg.jingleMessage.descriptions)}, want one RTP audio`);
	}

	// 2. phone rings, then answers, at alice's full JID.
	phone.sendMessage({ to: aliceJID, type: 'chat', id: `ringing-${sid}`, jingleMessage: { type: 'ringing', id: sid } });
	let hit = await expect('alice: <ringing/>', m => m.client === 'alice' && jmiOf(m, 'ringing'));
	emit('ringing', { client: 'alice', from: hit.stanza.from, id: sid });
	check(hit.stanza.from === phoneJID, `alice: ringing from ${hit.stanza.from}, want ${phoneJID}`);

	phone.sendMessage({
		to: aliceJID, type: 'chat', id: `proceed-${sid}`,
		jingleMessage: { type: 'proceed', id: sid }, processingHints: { store: true },
	});
	hit = await expect('alice: <proceed/>', m => m.client === 'alice' && jmiOf(m, 'proceed'));
	emit('proceed', { client: 'alice', from: hit.stanza.from, id: sid });
	check(hit.stanza.from === phoneJID, `alice: proceed from ${hit.stanza.from}, want ${phoneJID}`);

	// 3. laptop's copy is checked after the session (step 5), so that a
	// server without the copy still runs the Jingle part.
	const answeredElsewhere = m => {
		if (m.client !== 'laptop' || m.kind !== 'message') {
			return false;
		}
		const fwd = m.stanza.carbon && m.stanza.carbon.type === 'sent' && m.stanza.carbon.forward && m.stanza.carbon.forward.message;
		if (fwd) {
			return m.stanza.from === opt.bob && jmiOf({ kind: 'message', stanza: fwd }, 'proceed');
		}
		return jmiOf(m, 'proceed');
	};

	// 4. The Jingle session, alice → phone.
	const initiated = waitJingle(phone, 'session-initiate');
	await sendJingle(alice, phoneJID, {
		action: 'session-initiate',
		sid,
		initiator: aliceJID,
		contents: [{ creator: 'initiator', name: 'audio', senders: 'both', application: rtpAudio(), transport: iceUdp('alic', 50000, 'actpass') }],
	});
	const init = await initiated;
	checkContent('phone', init.jingle, 50000, 'actpass');
	check(init.from === aliceJID, `phone: session-initiate from ${init.from}, want ${aliceJID}`);

	const accepted = waitJingle(alice, 'session-accept');
	await sendJingle(phone, aliceJID, {
		action: 'session-accept',
		sid,
		responder: phoneJID,
		contents: [{ creator: 'initiator', name: 'audio', senders: 'both', application: rtpAudio(), transport: iceUdp('phon', 50002, 'active') }],
	});
	const acc = await accepted;
	checkContent('alice', acc.jingle, 50002, 'active');
	check(acc.from === phoneJID, `alice: session-accept from ${acc.from}, want ${phoneJID}`);

	const terminated = waitJingle(phone, 'session-terminate');
	await sendJingle(alice, phoneJID, { action: 'session-terminate', sid, reason: { condition: 'success' } });
	const term = await terminated;
	check(term.jingle.reason && term.jingle.reason.condition === 'success',
		`phone: session-terminate reason ${JSON.stringify(term.jingle.reason)}, want success`);

	// 5. Everything routed to laptop before its ping's result has arrived.
	current = 'laptop: ping result';
	await laptop.ping(opt.domain);
	const copy = seen.find(answeredElsewhere);
	if (!copy) {
		throw new Error('laptop never learned the call was answered elsewhere: no copy of the <proceed/> ' +
			`(direct, or a <sent/> carbon) reached ${laptopJID} before its ping result` +
			(opt.carbons ? ' (carbons enabled)' : ' (carbons not enabled)'));
	}
	const carbon = copy.stanza.carbon && copy.stanza.carbon.forward.message;
	const inner = carbon || copy.stanza;
	emit('answered_elsewhere', { client: 'laptop', how: carbon ? 'carbon' : 'direct', from: inner.from, to: inner.to, id: sid });
	check(inner.from === phoneJID && inner.to === aliceJID,
		`laptop: proceed copy from ${inner.from} to ${inner.to}, want from ${phoneJID} to ${aliceJID}`);
	const dupes = seen.filter(answeredElsewhere).length;
	check(dupes === 1, `laptop: got ${dupes} copies of the <proceed/>, want 1`);
	check(!seen.some(m => m.client === 'laptop' && jmiOf(m, 'ringing')), 'laptop: got phone\'s <ringing/>, meant for alice only');

	finish(EXIT_OK, 'done', { ok: true });
}

scenario().catch(err => fail(err && err.message ? err.message : String(err)));

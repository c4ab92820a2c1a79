// Package push implements XEP-0357 Push Notifications (urn:xmpp:push:0) on
// the user's server side: a client registers an app server (a JID and a
// PubSub node, XEP-0357 §5) and the server publishes a notification to it
// (§7) whenever a message for the account goes to offline storage, so that
// the app server can wake the device through its platform's push service.
//
// # What it owns
//
// Enabling (§5) and disabling (§6): a set IQ with no 'to' or to the
// account's own bare JID, carrying <enable jid='…' node='…'/> with an
// optional XEP-0004 form of FORM_TYPE
// http://jabber.org/protocol/pubsub#publish-options, or <disable jid='…'
// node='…'?/> (no node disables every node of that app server). Both
// answer an empty result. A missing jid or node, a form of another type,
// more than one form, or an app server that is the account itself is
// bad-request; an unparsable jid is jid-malformed. The jid is kept in its
// PRECIS-normalised form and the form is written anew (fields and values
// only, escaped), so that what is stored is well-formed on its own.
// Registrations are persisted through storage.Pushes and outlive sessions
// and restarts; an account keeps at most Config.MaxRegistrations, the
// oldest giving way to a new one. The disco feature urn:xmpp:push:0 is
// advertised on the account's bare JID (§5, discovering support), which is
// where clients look.
//
// Notifications: the package is a router.MessageObserver. When a message
// from a local session went to offline storage for a local account (no
// session got it) and is one offline storage keeps (a body, a XEP-0334
// store hint, a XEP-0353 call message; never a no-store hint or a bare
// chat state), each of the account's registrations gets one publish IQ,
// from the account's bare JID to the app server:
//
//	<iq type='set' from='bob@example.com' to='push.example.net' id='…'>
//	  <pubsub xmlns='http://jabber.org/protocol/pubsub'>
//	    <publish node='abc'><item>
//	      <notification xmlns='urn:xmpp:push:0'>
//	        <x xmlns='jabber:x:data' type='submit'>
//	          FORM_TYPE urn:xmpp:push:summary, message-count,
//	          last-message-sender, [last-message-body],
//	          [last-message-priority]
//	        </x>
//	        [<priority xmlns='tigase:push:priority:0'>high</priority>]
//	      </notification>
//	    </item></publish>
//	    [<publish-options>the registration's form</publish-options>]
//	  </pubsub>
//	</iq>
//
// message-count is the length of the account's offline queue (this
// message included); last-message-sender is the sender's bare JID (a bare
// JID says who, not which device).
//
// Storage comes first and push never replaces it: the router has stored
// the message before observers run, and the notification is published
// alongside, asynchronously. The observer only queues; a bounded queue
// (Config.QueueSize) is drained by up to Config.Workers goroutines that
// start with the first notification and end when the queue is empty, so
// the routing goroutine never waits on storage or on an app server. A
// notification that finds the queue full is dropped and counted
// (result="dropped"): the message itself is safe in storage and the
// device gets it at its next login, only later.
//
// # Priority: calls are urgent
//
// A message with a XEP-0353 <propose/> (urn:xmpp:jingle-message:0 or :1)
// is urgent: the callee must ring now, and mobile platforms deliver
// high-priority pushes at once but may delay or drop normal ones. No XEP
// says how a notification is marked, so an urgent one carries every
// marker the deployed app servers read, each harmless to the others:
//
//   - last-message-priority = high in the summary form: the field proposed
//     for XEP-0357 on the standards list (C. Ballinger, July 2017, values
//     high and low), for app servers that read the form;
//   - <priority xmlns='tigase:push:priority:0'>high</priority> in the
//     notification: Tigase's "Priority of notifications" extension
//     (xeps.tigase.net), read by the Tigase push component that serves
//     Siskin and Stork, and what Prosody's mod_cloud_notify_priority_tag
//     emits for important pushes;
//   - a last-message-body even when the registration does not allow
//     bodies: Prosody's mod_cloud_notify puts a placeholder body
//     (push_notification_important_body, "New Message!") in every
//     important push, and the app servers written for it (Monal's,
//     ChatSecure's) send a push with a body as a visible, high-priority
//     alert and one without as a silent background push, which iOS
//     throttles. The placeholder here is the fixed text "Incoming call";
//     it is not the message's body (a proposal has none).
//
// Conversations' app server (p2) forwards every notification to FCM at
// high priority and reads none of these. Other offline messages are
// normal: none of the markers. The disco feature tigase:push:priority:0 is
// not advertised: Tigase's extension asks for every message with a body
// to be high priority, which is not this policy. Tigase's VoIP extension
// (tigase:push:jingle:0, a PushKit push for calls that Siskin opts into at
// enable) is not implemented.
//
// # Bodies
//
// A notification carries the message's body (last-message-body, cut to
// 1 KiB) only when the registration's publish-options form has the field
// include-body or include_body set to true ("1" or "true"). No XEP
// defines such a field: include-body follows XEP-0357's field naming,
// include_body is ejabberd's mod_push option of the same meaning. The
// default is off: message text does not leave the server for a third
// party (the app server, and the platform push service behind it) unless
// the user's client asked for it. The field stays in the publish-options
// the app server gets.
//
// # What it must not do
//
// It does not route messages or touch storage of messages, and it never
// blocks the router. It publishes only to a JID on the served domain: a
// bound session of the app server's full JID, or for a bare JID its
// available session of highest priority (else any bound one). App servers
// on other domains are unreachable until there is federation; those
// notifications are counted (result="unreachable") and logged at debug
// level. Replies from app servers are not read (the router drops IQ
// results and errors addressed to an account), so a registration the app
// server refuses is not removed automatically.
//
// Metrics: ringd_push_notifications_total{priority="urgent"|"normal",
// result="sent"|"unreachable"|"dropped"|"error"}, sent and unreachable
// counted per registration, dropped and error per message.
package push

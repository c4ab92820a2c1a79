// Package dedupe makes a client's retries of a message harmless: a message
// re-sent by the same account to the same recipient with the same XEP-0359
// origin-id (urn:xmpp:sid:0), or failing that the same stanza id, within
// a window (default 10 minutes) is accepted and dropped instead of being
// delivered again. A mobile client that lost its connection before the
// server's XEP-0198 ack re-sends what it had queued; the session layer
// still acks the copy, because the message it stands for was delivered or
// stored.
//
// # What it owns
//
// The table of recently routed messages: for each, a 128-bit fingerprint
// (two maphash sums) of the sender's bare JID, the recipient's bare JID
// (the sender's own when there is no 'to'; ASCII is case-folded, anything
// else goes through PRECIS) and the id, with its expiry. The table is
// sharded; a shard drops its expired entries, oldest first, whenever it
// records a message or finds a possible duplicate, and Len (read by the
// ringd_dedupe_entries gauge at each scrape) sweeps every shard. It never
// holds more than Config.MaxEntries (about 55 bytes each): when a shard is
// full its oldest entry goes first (counted in
// ringd_dedupe_evictions_total). There is no goroutine to start or stop.
//
// # Choices
//
// A message is looked up before routing (router.MessageFilter) but
// recorded only after the router delivered it or put it in offline storage
// (router.MessageObserver). A message the server refused (an offline quota
// reached, a storage failure, an unknown account) is not recorded, so its
// retry is routed again and gets its error again, instead of being
// dropped: dropping it would ack a message nobody has. The cost is that two
// copies arriving at the same moment (before the first finished routing)
// may both be delivered: at-least-once allows a duplicate, never a loss.
//
// Messages without an origin-id or id, and messages of type error, are
// never deduplicated. Ids are compared as the client wrote them (after
// unescaping); only the recipient is normalised. The key includes the
// sender's account, so one account cannot suppress another's messages by
// guessing its ids. The window runs from the first routed copy and is not
// extended by duplicates.
//
// # What it must not do
//
// It does not route, store or answer anything: a duplicate is dropped
// without an error. It keeps no message content, only fingerprints.
package dedupe

// Package inflight keeps the durable record of messages that were handed
// to a live session whose client acknowledges stanzas (XEP-0198) and has
// not acknowledged them yet.
//
// Without it, a message sits only in the recipient session's memory from
// the moment the sender was told it was handled until the recipient's
// client acks it, and a crash in between loses it. With it, every such
// message is recorded in storage before the sender's acknowledgement goes
// out, the record is deleted once the recipient acknowledges (or the
// session hands the message to offline storage), and whatever is still
// recorded when the server starts again is moved to the recipients'
// offline queues (Journal.Recover).
//
// Writes are batched (group commit): one goroutine commits every record
// added since its last commit, and the deletes, in one transaction. A
// record the recipient acknowledges before its batch is committed is
// cancelled and never written, so a fast recipient costs no storage I/O
// at all; Config.Linger lets a batch wait a little for such
// acknowledgements.
//
// Senders learn when their messages are durable by batch number: Batch
// returns the number of the batch being filled, and OnDurable and
// WaitDurable fire once that batch (and every earlier one) is committed.
// xmpp/c2s holds back the sender's <a h/> until then.
package inflight

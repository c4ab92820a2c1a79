// Command ringbench is an XMPP load and latency generator for comparing
// ringd with other servers (Prosody, ejabberd) on the same machine. It is
// a client like any other: it speaks the protocol over TCP and TLS and
// imports nothing of ringd.
//
// Sub-commands: provision creates the accounts with each server's admin
// tool; connect opens authenticated sessions at a controlled rate and
// holds them; messages runs sender→receiver chat pairs with a window in
// flight; presence fans presence changes out to K contacts; calls runs
// XEP-0353 Jingle Message Initiation followed by a XEP-0166 session. Each
// prints progress on stderr and one JSON summary on stdout, and fails
// (exit status 1) on loss or errors. It only targets loopback addresses.
//
// The hot path avoids XML libraries: stanzas are written with appends and
// cut out of the stream by a tag-depth scanner (frame.go); only stream
// negotiation and roster stanzas are parsed into trees (element.go).
//
// docs/performance.md ("ringbench") documents usage and the JSON fields.
package main

// Command ringd is the ringd XMPP server and its administration tool.
//
// It owns the command line, the configuration file format (TOML, mapped
// onto server.Config; no other package knows it) and process signals. It
// does no XMPP work itself: package xmpp/server builds and runs the server.
//
// Usage:
//
//	ringd [serve] [-config FILE] [-log-level LEVEL]
//	ringd user add [-config FILE] [-password PASSWORD] JID
//	ringd user del [-config FILE] JID
//	ringd user passwd [-config FILE] [-password PASSWORD] JID
//	ringd user list [-config FILE]
//	ringd version
//
// serve, the default command, runs the server until SIGINT or SIGTERM, then
// shuts it down gracefully; a second signal ends the process at once.
// Without -config every setting takes its default, so a bare "ringd"
// serves localhost with an SQLite store under ./data.
//
// The user commands work on the store the configuration names, the same
// one a running server uses, so they may run while it serves. JIDs must be
// bare, with a localpart, in the configured domain; they are PRECIS-
// normalised before use. Without -password, the password is the first line
// of standard input (prompted for, without echo, on a terminal). Flags may
// come before or after the JID.
//
// Exit codes: 0 success, 1 failure (reported as one line on stderr), 2 a
// wrong command line.
//
// See docs/cli.md and docs/configuration.md; ringd.example.toml lists every
// configuration key with its default.
package main

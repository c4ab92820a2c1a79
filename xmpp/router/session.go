package router

import (
	"sync/atomic"

	"mellium.im/xmpp/jid"
)

// Conn is the connection behind a bound session, implemented by xmpp/c2s.
type Conn interface {
	// Deliver queues one complete stanza (content namespace jabber:client)
	// for the client. It must never block. It returns false when the
	// session is closing or was cut off for not keeping up; the stanza was
	// not taken.
	Deliver(raw []byte) bool
	// Close ends the session with the given RFC 6120 §4.9.3 stream error
	// condition ("conflict" when a new session takes its resource).
	Close(condition string)
}

// Session is a bound resource as the router sees it. Its presence fields
// are written by the presence feature and read by the routing rules.
type Session struct {
	jid   jid.JID
	full  string
	bare  string
	local string
	conn  Conn

	available       atomic.Bool
	priority        atomic.Int32
	rosterRequested atomic.Bool
	presence        atomic.Pointer[[]byte]
}

// JID returns the session's full JID.
func (s *Session) JID() jid.JID { return s.jid }

// FullString returns the full JID as a string, without allocating.
func (s *Session) FullString() string { return s.full }

// BareString returns the bare JID as a string.
func (s *Session) BareString() string { return s.bare }

// Username returns the account's localpart.
func (s *Session) Username() string { return s.local }

// Conn returns the connection behind the session, for features that need
// an optional capability of it (such as waiting for its queue to drain).
func (s *Session) Conn() Conn { return s.conn }

// Deliver queues raw for this session's client; see Conn.Deliver.
func (s *Session) Deliver(raw []byte) bool { return s.conn.Deliver(raw) }

// Available reports whether the session has sent initial presence and not
// gone unavailable since (RFC 6121 §4.2).
func (s *Session) Available() bool { return s.available.Load() }

// Priority is the priority of the session's last available presence.
func (s *Session) Priority() int { return int(s.priority.Load()) }

// SetPresence records the session's current broadcast presence: raw is the
// presence stanza as broadcast (from the full JID, no to), or nil with
// available=false when the session went unavailable.
func (s *Session) SetPresence(available bool, priority int, raw []byte) {
	s.priority.Store(int32(priority))
	if raw == nil {
		s.presence.Store(nil)
	} else {
		s.presence.Store(&raw)
	}
	s.available.Store(available)
}

// Presence returns the last broadcast available presence, or nil.
func (s *Session) Presence() []byte {
	if p := s.presence.Load(); p != nil {
		return *p
	}
	return nil
}

// RosterRequested reports whether the client has fetched its roster, which
// makes it an "interested resource" for roster pushes (RFC 6121 §2.1.6).
func (s *Session) RosterRequested() bool { return s.rosterRequested.Load() }

// SetRosterRequested marks the session as an interested resource.
func (s *Session) SetRosterRequested() { s.rosterRequested.Store(true) }

package offline

import (
	"bytes"
	"context"
	"fmt"

	"github.com/ringd/ringd/storage"
	"github.com/ringd/ringd/xmpp/router"
	"github.com/ringd/ringd/xmpp/wire"
)

// recoverLimits decode records the server itself wrote: trusted bytes,
// maybe a little larger than a client's stream allowed.
var recoverLimits = wire.Limits{MaxDepth: 1 << 10, MaxAttrs: 1 << 10}

// Recover stores m, a message that was queued for a live session and
// never acknowledged before the server stopped (xmpp/inflight), in its
// recipient's offline queue, with the time it was first accepted. It is
// kept like any offline message (XEP-0160 and hints) but beyond the
// quota: its sender was told it was handled, so refusing it now would
// lose it silently.
func (o *Offline) Recover(ctx context.Context, m storage.InflightMessage) error {
	lim := recoverLimits
	lim.MaxStanzaBytes = len(m.Stanza) + 1
	st, err := wire.NewFramedDecoder(bytes.NewReader(m.Stanza), lim).Next()
	if err != nil {
		return fmt.Errorf("offline: recover record %d: unreadable stanza: %w", m.ID, err)
	}
	if st.Kind != wire.KindMessage || !router.Storable(st) {
		o.metrics.dropped.Inc()
		return nil
	}
	if err := o.push(ctx, m.User, m.Stanza, m.Created, 0); err != nil {
		return fmt.Errorf("offline: recover record %d: %w", m.ID, err)
	}
	return nil
}

// MaybeStorable reports whether raw, a message stanza, may be one that
// Recover keeps. It runs for every message queued for a client with
// stream management, so it only looks for the bytes that any storable
// message contains (a body element's local name, whatever its prefix; a
// store hint's or a call message's namespace) and may say yes to more;
// Recover decides.
func MaybeStorable(raw []byte) bool {
	return bytes.Contains(raw, []byte("body")) ||
		bytes.Contains(raw, []byte(NSHints)) ||
		bytes.Contains(raw, []byte(NSJMI0[:len("urn:xmpp:jingle-message:")]))
}

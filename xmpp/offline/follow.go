package offline

import (
	"context"
	"time"

	"github.com/ringd/ringd/storage"
	"github.com/ringd/ringd/xmpp/router"
)

// Follower adds stanzas after stored messages as they are delivered.
// jingle is one: a stored call offer whose ring timeout passed while no
// server was running to end it gets a missed-call retract right after it,
// so the device that logs in does not ring for a dead call.
type Follower interface {
	// FollowStored is shown msgs, a run of the account's oldest stored
	// messages, oldest first, as they are about to be delivered at now;
	// last reports that no stored message comes after them. It returns
	// how many of msgs, from the first, it has judged, and what to
	// deliver right after each judged message: after[i], when i <
	// len(after) and after[i].Stanza is not nil, is a complete message
	// stanza (without a delay element; its ID is unused) delivered after
	// msgs[i] with a XEP-0203 delay stamp of after[i].Created.
	//
	// It judges fewer than len(msgs) only when last is false and
	// msgs[judged] cannot be judged without later messages. Delivery then
	// stops before that message and shows it again, at the head of a run
	// that is longer if it was first in this one.
	FollowStored(ctx context.Context, to router.Account, msgs []storage.OfflineMessage, last bool, now time.Time) (judged int, after []storage.OfflineMessage)
}

// SetFollower installs f. Call before serving.
func (o *Offline) SetFollower(f Follower) { o.follow = f }

package ping

import (
	"context"

	"mellium.im/xmpp/stanza"

	"github.com/ringd/ringd/xmpp/router"
)

// NS is the XEP-0199 namespace.
const NS = "urn:xmpp:ping"

// Register installs the ping handler on r.
func Register(r *router.Router) {
	r.AddFeature(router.ToServer, NS)
	r.HandleIQ(NS, router.ToServer|router.ToOwnAccount, router.IQHandlerFunc(handle))
}

func handle(_ context.Context, iq *router.IQ) ([]byte, error) {
	if iq.Set || string(iq.Payload.Name) != "ping" {
		return nil, stanza.Error{Type: stanza.Cancel, Condition: stanza.FeatureNotImplemented}
	}
	return nil, nil
}

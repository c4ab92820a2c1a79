package version

import (
	"context"

	"mellium.im/xmpp/stanza"

	"github.com/ringd/ringd/xmpp/router"
	"github.com/ringd/ringd/xmpp/wire"
)

// NS is the XEP-0092 namespace.
const NS = "jabber:iq:version"

// Register answers version queries to the server with name and version.
func Register(r *router.Router, name, version string) {
	payload := []byte(`<query xmlns="` + NS + `"><name>`)
	payload = wire.AppendEscaped(payload, name)
	payload = append(payload, `</name><version>`...)
	payload = wire.AppendEscaped(payload, version)
	payload = append(payload, `</version></query>`...)
	r.AddFeature(router.ToServer, NS)
	r.HandleIQ(NS, router.ToServer, router.IQHandlerFunc(func(_ context.Context, iq *router.IQ) ([]byte, error) {
		if iq.Set {
			return nil, stanza.Error{Type: stanza.Cancel, Condition: stanza.FeatureNotImplemented}
		}
		return payload, nil
	}))
}

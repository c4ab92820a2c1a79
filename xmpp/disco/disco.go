package disco

import (
	"context"
	"encoding/xml"

	"mellium.im/xmpp/stanza"

	"github.com/ringd/ringd/xmpp/router"
	"github.com/ringd/ringd/xmpp/wire"
)

// Namespaces of XEP-0030.
const (
	NSInfo  = "http://jabber.org/protocol/disco#info"
	NSItems = "http://jabber.org/protocol/disco#items"
)

// Identity is a XEP-0030 identity.
type Identity struct {
	Category, Type, Name string
}

// Handler answers disco#info and disco#items.
type Handler struct {
	r      *router.Router
	server Identity
}

// Register installs the handler on r for the server and for accounts.
// serverName is the identity's name (e.g. "ringd").
func Register(r *router.Router, serverName string) *Handler {
	h := &Handler{r: r, server: Identity{Category: "server", Type: "im", Name: serverName}}
	r.AddFeature(router.ToServer|router.ToAccount, NSInfo)
	r.AddFeature(router.ToServer|router.ToAccount, NSItems)
	r.HandleIQ(NSInfo, router.ToServer|router.ToAccount, router.IQHandlerFunc(h.info))
	r.HandleIQ(NSItems, router.ToServer|router.ToAccount, router.IQHandlerFunc(h.items))
	return h
}

type query struct {
	Node string `xml:"node,attr"`
}

func parseQuery(iq *router.IQ) (query, error) {
	var q query
	if err := xml.Unmarshal(iq.PayloadXML(), &q); err != nil {
		return q, stanza.Error{Type: stanza.Modify, Condition: stanza.BadRequest}
	}
	return q, nil
}

func (h *Handler) info(_ context.Context, iq *router.IQ) ([]byte, error) {
	if iq.Set {
		return nil, stanza.Error{Type: stanza.Cancel, Condition: stanza.FeatureNotImplemented}
	}
	q, err := parseQuery(iq)
	if err != nil {
		return nil, err
	}
	if q.Node != "" {
		return nil, stanza.Error{Type: stanza.Cancel, Condition: stanza.ItemNotFound}
	}
	target := router.ToServer
	id := h.server
	if iq.HasTo && iq.To.Localpart() != "" {
		target = router.ToOtherAccount
		if iq.To.Localpart() == iq.Session.Username() {
			target = router.ToOwnAccount
		}
		id = Identity{Category: "account", Type: "registered"}
	} else if !iq.HasTo {
		target = router.ToOwnAccount
		id = Identity{Category: "account", Type: "registered"}
	}
	b := []byte(`<query xmlns="` + NSInfo + `"><identity category="`)
	b = wire.AppendEscaped(b, id.Category)
	b = append(b, `" type="`...)
	b = wire.AppendEscaped(b, id.Type)
	if id.Name != "" {
		b = append(b, `" name="`...)
		b = wire.AppendEscaped(b, id.Name)
	}
	b = append(b, `"/>`...)
	for _, f := range h.r.Features(target) {
		b = append(b, `<feature var="`...)
		b = wire.AppendEscaped(b, f)
		b = append(b, `"/>`...)
	}
	return append(b, `</query>`...), nil
}

func (h *Handler) items(_ context.Context, iq *router.IQ) ([]byte, error) {
	if iq.Set {
		return nil, stanza.Error{Type: stanza.Cancel, Condition: stanza.FeatureNotImplemented}
	}
	q, err := parseQuery(iq)
	if err != nil {
		return nil, err
	}
	if q.Node != "" {
		return nil, stanza.Error{Type: stanza.Cancel, Condition: stanza.ItemNotFound}
	}
	return []byte(`<query xmlns="` + NSItems + `"/>`), nil
}

package router

import (
	"context"
	"fmt"
	"slices"

	"mellium.im/xmpp/jid"

	"github.com/ringd/ringd/xmpp/wire"
)

// IQ is a get or set IQ addressed to the server or to an account, handed to
// the handler registered for its payload namespace. Raw and Payload are
// views valid only while the handler runs.
type IQ struct {
	Session *Session // the sender
	To      jid.JID  // as addressed; the zero JID when HasTo is false
	HasTo   bool
	ID      string
	Set     bool // type='set'; otherwise 'get'
	Payload wire.Child
	Raw     []byte // the whole IQ stanza
}

// PayloadXML returns the bytes of the payload element.
func (iq *IQ) PayloadXML() []byte { return iq.Raw[iq.Payload.Start:iq.Payload.End] }

// Account returns the bare JID string of the account the IQ is about: the
// addressed account, or the sender's when the IQ has no 'to'.
func (iq *IQ) Account() string {
	if iq.HasTo && iq.To.Localpart() != "" {
		return iq.To.Bare().String()
	}
	return iq.Session.bare
}

// IQHandler answers IQs. It returns the payload of the result (complete XML
// elements, or nil for an empty result) or an error: a stanza.Error is sent
// to the requester as is; any other error is logged and answered with
// internal-server-error.
type IQHandler interface {
	HandleIQ(ctx context.Context, iq *IQ) ([]byte, error)
}

// IQHandlerFunc adapts a function to IQHandler.
type IQHandlerFunc func(ctx context.Context, iq *IQ) ([]byte, error)

// HandleIQ calls f.
func (f IQHandlerFunc) HandleIQ(ctx context.Context, iq *IQ) ([]byte, error) { return f(ctx, iq) }

// Target says which addresses an IQ handler serves; combine with |.
type Target uint8

const (
	// ToServer: IQs to the domain itself.
	ToServer Target = 1 << iota
	// ToOwnAccount: IQs with no 'to' or to the sender's own bare JID.
	ToOwnAccount
	// ToOtherAccount: IQs to another local account's bare JID.
	ToOtherAccount
	// ToAccount serves any account's bare JID.
	ToAccount = ToOwnAccount | ToOtherAccount
)

func muxTarget(t target) Target {
	switch t {
	case targetServer:
		return ToServer
	case targetOwnAccount:
		return ToOwnAccount
	case targetAccount:
		return ToOtherAccount
	}
	return 0
}

type muxEntry struct {
	targets Target
	h       IQHandler
}

type mux struct {
	byNS     map[string][]muxEntry
	features map[Target][]string
}

func newMux() *mux {
	return &mux{byNS: make(map[string][]muxEntry), features: make(map[Target][]string)}
}

func (m *mux) lookup(ns string, t Target) IQHandler {
	for _, e := range m.byNS[ns] {
		if e.targets&t != 0 {
			return e.h
		}
	}
	return nil
}

// HandleIQ registers h for IQs whose payload is in namespace ns addressed
// to targets. It panics when a handler is already registered for the same
// namespace and an overlapping target, so wiring mistakes show at start.
// Call before serving.
func (r *Router) HandleIQ(ns string, targets Target, h IQHandler) {
	for _, e := range r.mux.byNS[ns] {
		if e.targets&targets != 0 {
			panic(fmt.Sprintf("router: duplicate IQ handler for %s", ns))
		}
	}
	r.mux.byNS[ns] = append(r.mux.byNS[ns], muxEntry{targets: targets, h: h})
}

// AddFeature advertises a service discovery feature (XEP-0030 var) for the
// given targets: ToServer for the domain, ToAccount for accounts' bare
// JIDs. Call before serving.
func (r *Router) AddFeature(targets Target, feature string) {
	for _, t := range []Target{ToServer, ToOwnAccount, ToOtherAccount} {
		if targets&t != 0 && !slices.Contains(r.mux.features[t], feature) {
			r.mux.features[t] = append(r.mux.features[t], feature)
		}
	}
}

// Features returns the sorted features advertised for target t (a single
// target bit).
func (r *Router) Features(t Target) []string {
	f := slices.Clone(r.mux.features[t])
	slices.Sort(f)
	return f
}

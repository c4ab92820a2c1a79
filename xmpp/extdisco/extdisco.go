package extdisco

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"strconv"
	"time"

	"mellium.im/xmpp/stanza"

	"github.com/ringd/ringd/turn"
	"github.com/ringd/ringd/xmpp/router"
	"github.com/ringd/ringd/xmpp/wire"
)

// NS is the XEP-0215 namespace.
const NS = "urn:xmpp:extdisco:2"

// Config configures the Handler.
type Config struct {
	// Services are advertised in this order: the embedded relay's
	// (turn.Server.Services) and external ones. TURN services (turn,
	// turns) need a Secret; clients get credentials for them.
	Services []turn.Service
	// TTL is how long issued credentials stay valid; default
	// turn.DefaultTTL.
	TTL time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.TTL == 0 {
		c.TTL = turn.DefaultTTL
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	if c.TTL < time.Second {
		errs = append(errs, fmt.Errorf("extdisco: credential TTL %v is below one second", c.TTL))
	}
	for i, s := range c.Services {
		if err := validateService(s); err != nil {
			errs = append(errs, fmt.Errorf("extdisco: service %d (%v): %w", i+1, s, err))
		}
	}
	return errors.Join(errs...)
}

func validateService(s turn.Service) error {
	var errs []error
	switch s.Type {
	case "stun", "stuns":
	case "turn", "turns":
		if s.Secret == "" {
			errs = append(errs, errors.New("a TURN service needs a secret"))
		}
	default:
		errs = append(errs, fmt.Errorf("type %q: want stun, stuns, turn or turns", s.Type))
	}
	if s.Host == "" {
		errs = append(errs, errors.New("host is required"))
	}
	if s.Port < 1 || s.Port > 65535 {
		errs = append(errs, fmt.Errorf("port %d: want 1 to 65535", s.Port))
	}
	switch s.Transport {
	case "udp", "tcp":
	default:
		errs = append(errs, fmt.Errorf("transport %q: want udp or tcp", s.Transport))
	}
	return errors.Join(errs...)
}

// Handler answers XEP-0215 requests. It is safe for concurrent use.
type Handler struct {
	services []turn.Service
	ttl      time.Duration
	now      func() time.Time
}

var _ router.IQHandler = (*Handler)(nil)

// New checks cfg and returns a handler.
func New(cfg Config) (*Handler, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Handler{services: append([]turn.Service(nil), cfg.Services...), ttl: cfg.TTL, now: cfg.Now}, nil
}

// Register installs the handler for IQs to the server and advertises the
// feature in the server's disco#info.
func (h *Handler) Register(r *router.Router) {
	r.AddFeature(router.ToServer, NS)
	r.HandleIQ(NS, router.ToServer, h)
}

// request is the payload of a services (§3.1, §3.2) or credentials
// (§3.3) query.
type request struct {
	XMLName xml.Name
	Type    string `xml:"type,attr"`
	Service []struct {
		Host string `xml:"host,attr"`
		Type string `xml:"type,attr"`
		Port string `xml:"port,attr"`
	} `xml:"service"`
}

// HandleIQ answers a get of <services/> or <credentials/>; a set is a
// bad request (only the server pushes services, §5).
func (h *Handler) HandleIQ(_ context.Context, iq *router.IQ) ([]byte, error) {
	name := string(iq.Payload.Name)
	if name != "services" && name != "credentials" {
		return nil, router.StanzaError(stanza.Cancel, stanza.FeatureNotImplemented, "")
	}
	if iq.Set {
		return nil, router.StanzaError(stanza.Modify, stanza.BadRequest, "services are requested with type get")
	}
	var req request
	if err := xml.Unmarshal(iq.PayloadXML(), &req); err != nil {
		return nil, router.StanzaError(stanza.Modify, stanza.BadRequest, "malformed "+name+" request")
	}
	user := iq.Session.BareString()
	if name == "services" {
		return h.list(user, req.Type), nil
	}
	if len(req.Service) == 0 || req.Service[0].Host == "" || req.Service[0].Type == "" {
		return nil, router.StanzaError(stanza.Modify, stanza.BadRequest, "credentials need a service with host and type")
	}
	want := req.Service[0]
	port := 0
	if want.Port != "" {
		p, err := strconv.ParseUint(want.Port, 10, 16)
		if err != nil || p == 0 {
			return nil, router.StanzaError(stanza.Modify, stanza.BadRequest, "bad port")
		}
		port = int(p)
	}
	return h.credentials(user, want.Host, want.Type, port)
}

// list lists every service of type typ (all when empty), TURN ones
// with credentials for user.
func (h *Handler) list(user, typ string) []byte {
	expires := h.now().Add(h.ttl)
	b := append([]byte(nil), `<services xmlns="`+NS+`"`...)
	if typ != "" {
		b = append(b, ` type="`...)
		b = wire.AppendEscaped(b, typ)
		b = append(b, '"')
	}
	b = append(b, '>')
	for _, s := range h.services {
		if typ == "" || s.Type == typ {
			b = appendService(b, s, user, expires)
		}
	}
	return append(b, "</services>"...)
}

// credentials answers §3.3 for the services that match host, type and, if
// given, port, and that have credentials to give.
func (h *Handler) credentials(user, host, typ string, port int) ([]byte, error) {
	expires := h.now().Add(h.ttl)
	b := append([]byte(nil), `<credentials xmlns="`+NS+`">`...)
	found := false
	for _, s := range h.services {
		if s.Host == host && s.Type == typ && (port == 0 || s.Port == port) && s.Secret != "" {
			b = appendService(b, s, user, expires)
			found = true
		}
	}
	if !found {
		return nil, router.StanzaError(stanza.Cancel, stanza.ItemNotFound, "no such service with credentials")
	}
	return append(b, "</credentials>"...), nil
}

// appendService appends one <service/>, with TURN REST credentials for
// user when the service has a secret.
func appendService(b []byte, s turn.Service, user string, expires time.Time) []byte {
	attr := func(name, v string) {
		b = append(b, ' ')
		b = append(b, name...)
		b = append(b, `="`...)
		b = wire.AppendEscaped(b, v)
		b = append(b, '"')
	}
	b = append(b, "<service"...)
	attr("type", s.Type)
	attr("host", s.Host)
	attr("port", strconv.Itoa(s.Port))
	attr("transport", s.Transport)
	if s.Secret != "" {
		c := turn.NewCredentials(s.Secret, user, expires)
		attr("username", c.Username)
		attr("password", c.Password)
		attr("expires", c.Expires.Format(time.RFC3339))
		attr("restricted", "1")
	}
	return append(b, "/>"...)
}

package push

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"github.com/ringd/ringd/storage"
	"github.com/ringd/ringd/xmpp/router"
)

// Namespaces this package reads and writes.
const (
	NS               = "urn:xmpp:push:0"                                   // XEP-0357
	NSSummary        = "urn:xmpp:push:summary"                             // FORM_TYPE of the notification form
	NSPubSub         = "http://jabber.org/protocol/pubsub"                 // XEP-0060
	NSPublishOptions = "http://jabber.org/protocol/pubsub#publish-options" // FORM_TYPE of publish-options
	NSData           = "jabber:x:data"                                     // XEP-0004
	NSPriority       = "tigase:push:priority:0"                            // Tigase's priority extension
	NSJMI0           = router.NSJMI0                                       // XEP-0353
	NSJMI1           = router.NSJMI1
	NSHints          = router.NSHints // XEP-0334
)

// Defaults of Config.
const (
	DefaultQueueSize        = 1024
	DefaultWorkers          = 4
	DefaultTimeout          = 5 * time.Second
	DefaultMaxRegistrations = 10
)

// Limits on what a client may register; larger is refused with
// bad-request. XEP-0060 sets no length for a node; app servers hand out
// short random ones.
const (
	maxNodeBytes    = 1023
	maxOptionsBytes = 8 << 10
	maxFields       = 32
)

// Store is what the feature needs of storage: the registrations, and the
// length of an account's offline queue for the message-count field. Every
// storage.Store satisfies it.
type Store interface {
	storage.Pushes
	CountOffline(ctx context.Context, user string) (int, error)
}

// Config configures the push feature.
type Config struct {
	Router *router.Router // required: local delivery to app servers
	Store  Store          // required
	Logger *slog.Logger
	// Registerer receives the metrics; nil leaves them unregistered.
	Registerer prometheus.Registerer
	// QueueSize bounds the notifications waiting to be published;
	// beyond it they are dropped and counted. Default DefaultQueueSize.
	QueueSize int
	// Workers is the most notifications published at once. Default
	// DefaultWorkers.
	Workers int
	// Timeout bounds the storage calls of one notification. Default
	// DefaultTimeout.
	Timeout time.Duration
	// MaxRegistrations is the most registrations an account keeps; a new
	// one beyond it replaces the oldest (devices that were reinstalled
	// never disable theirs). Default DefaultMaxRegistrations.
	MaxRegistrations int
	// Now is the clock for registration times; default time.Now.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.QueueSize == 0 {
		c.QueueSize = DefaultQueueSize
	}
	if c.Workers == 0 {
		c.Workers = DefaultWorkers
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxRegistrations == 0 {
		c.MaxRegistrations = DefaultMaxRegistrations
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	if c.Router == nil {
		errs = append(errs, errors.New("no router"))
	}
	if c.Store == nil {
		errs = append(errs, errors.New("no store"))
	}
	if c.QueueSize < 1 {
		errs = append(errs, fmt.Errorf("QueueSize %d: want at least 1 (0 for the default)", c.QueueSize))
	}
	if c.Workers < 1 {
		errs = append(errs, fmt.Errorf("Workers %d: want at least 1 (0 for the default)", c.Workers))
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("Timeout %v: want a positive duration (0 for the default)", c.Timeout))
	}
	if c.MaxRegistrations < 1 {
		errs = append(errs, fmt.Errorf("MaxRegistrations %d: want at least 1 (0 for the default)", c.MaxRegistrations))
	}
	return errors.Join(errs...)
}

// Push is the feature: the enable/disable IQ handler and the message
// observer that publishes notifications. Its methods are safe for
// concurrent use.
type Push struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics

	// mu guards the queue's senders against Close, and the worker count;
	// nothing blocks while it is held.
	mu      sync.Mutex
	queue   chan notification
	workers int
	closed  bool
	running sync.WaitGroup // the workers
	// abandon tells workers to drop what is still queued: Close ran out
	// of time.
	abandon atomic.Bool
}

var (
	_ router.IQHandler       = (*Push)(nil)
	_ router.MessageObserver = (*Push)(nil)
)

// New validates cfg; it does no I/O and starts no goroutine (workers start
// with the first notification and end when the queue is empty).
func New(cfg Config) (*Push, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("push: %w", err)
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	return &Push{
		cfg:     cfg,
		log:     cfg.Logger,
		metrics: m,
		queue:   make(chan notification, cfg.QueueSize),
	}, nil
}

// Register installs the feature on r: the IQ handler for the account's own
// sessions, the disco feature on the account (XEP-0357 §5: a client asks
// its own bare JID) and the message observer. Call once, before serving.
func (p *Push) Register(r *router.Router) {
	r.AddFeature(router.ToOwnAccount, NS)
	r.HandleIQ(NS, router.ToOwnAccount, p)
	r.AddMessageObserver(p)
}

// Close stops publishing: notifications that arrive later are dropped, and
// Close waits for the queued ones to be published. When ctx ends first,
// what is still queued is dropped (counted), Close waits only for the
// notifications being published (each bounded by Config.Timeout) and
// returns ctx's error. It is safe to call more than once.
func (p *Push) Close(ctx context.Context) error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	done := make(chan struct{})
	go func() {
		p.running.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		p.abandon.Store(true)
		<-done
		return ctx.Err()
	}
}

func badRequest(text string) stanza.Error {
	return router.StanzaError(stanza.Modify, stanza.BadRequest, text)
}

// xmlIQ is an enable or disable request. The whole IQ is decoded, not the
// payload alone, so that prefixes declared on the iq element resolve.
type xmlIQ struct {
	Enable  *xmlCommand `xml:"urn:xmpp:push:0 enable"`
	Disable *xmlCommand `xml:"urn:xmpp:push:0 disable"`
}

type xmlCommand struct {
	JID   *string   `xml:"jid,attr"`
	Node  *string   `xml:"node,attr"`
	Forms []xmlForm `xml:"jabber:x:data x"`
}

// HandleIQ implements router.IQHandler for <enable/> and <disable/>
// (XEP-0357 §5 and §6), sets to the sender's own account.
func (p *Push) HandleIQ(ctx context.Context, iq *router.IQ) ([]byte, error) {
	if !iq.Set {
		return nil, badRequest("push: enable and disable are sets")
	}
	var doc xmlIQ
	if err := xml.Unmarshal(iq.Raw, &doc); err != nil {
		return nil, badRequest("malformed push request")
	}
	s := iq.Session
	switch {
	case doc.Enable != nil:
		return nil, p.enable(ctx, s, doc.Enable)
	case doc.Disable != nil:
		return nil, p.disable(ctx, s, doc.Disable)
	}
	return nil, badRequest("expected enable or disable")
}

// service parses the jid attribute: the app server's address, kept in its
// normalised form.
func service(s *router.Session, attr *string) (string, error) {
	if attr == nil || *attr == "" {
		return "", badRequest("missing jid")
	}
	j, err := jid.Parse(*attr)
	if err != nil {
		return "", router.StanzaError(stanza.Modify, stanza.JIDMalformed, "")
	}
	if j.Bare().String() == s.BareString() {
		// Notifications would come back to the account they are about.
		return "", badRequest("the app server cannot be the account itself")
	}
	return j.String(), nil
}

func (p *Push) enable(ctx context.Context, s *router.Session, cmd *xmlCommand) error {
	svc, err := service(s, cmd.JID)
	if err != nil {
		return err
	}
	if cmd.Node == nil || *cmd.Node == "" {
		return badRequest("missing node")
	}
	if len(*cmd.Node) > maxNodeBytes {
		return badRequest("node too long")
	}
	var opts []byte
	switch len(cmd.Forms) {
	case 0:
	case 1:
		if opts, err = publishOptions(cmd.Forms[0]); err != nil {
			return err
		}
	default:
		return badRequest("more than one publish-options form")
	}
	user := s.Username()
	reg := storage.PushRegistration{Service: svc, Node: *cmd.Node, Options: opts, Created: p.cfg.Now()}
	if err := p.cfg.Store.PutPushRegistration(ctx, user, reg); err != nil {
		return fmt.Errorf("push: enable for %s: %w", s.BareString(), err)
	}
	if err := p.evict(ctx, user, reg); err != nil {
		return fmt.Errorf("push: enable for %s: %w", s.BareString(), err)
	}
	p.log.DebugContext(ctx, "push enabled", "jid", s.FullString(), "service", svc)
	return nil
}

// evict removes the user's oldest registrations beyond MaxRegistrations,
// never the one just made.
func (p *Push) evict(ctx context.Context, user string, keep storage.PushRegistration) error {
	regs, err := p.cfg.Store.PushRegistrations(ctx, user)
	if err != nil {
		return err
	}
	extra := len(regs) - p.cfg.MaxRegistrations
	for _, r := range regs {
		if extra <= 0 {
			break
		}
		if r.Service == keep.Service && r.Node == keep.Node {
			continue
		}
		if err := p.cfg.Store.DeletePushRegistrations(ctx, user, r.Service, r.Node); err != nil {
			return err
		}
		extra--
	}
	return nil
}

func (p *Push) disable(ctx context.Context, s *router.Session, cmd *xmlCommand) error {
	svc, err := service(s, cmd.JID)
	if err != nil {
		return err
	}
	node := ""
	if cmd.Node != nil {
		node = *cmd.Node
	}
	if err := p.cfg.Store.DeletePushRegistrations(ctx, s.Username(), svc, node); err != nil {
		return fmt.Errorf("push: disable for %s: %w", s.BareString(), err)
	}
	p.log.DebugContext(ctx, "push disabled", "jid", s.FullString(), "service", svc)
	return nil
}

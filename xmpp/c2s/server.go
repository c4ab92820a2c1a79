package c2s

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/ringd/ringd/xmpp/wire"
)

// ErrServerClosed is returned by the Serve methods after Shutdown.
var ErrServerClosed = errors.New("c2s: server closed")

// Server accepts client connections on the listeners it is given.
type Server struct {
	cfg     Config
	metrics *metrics
	limits  wire.Limits

	ctx    context.Context // parent of every connection's context
	cancel context.CancelFunc

	mu          sync.Mutex
	closed      bool
	listeners   map[net.Listener]struct{}
	conns       map[*conn]struct{}
	resumable   map[string]*session // by resumption id (XEP-0198 previd)
	hibernating map[*session]struct{}
	wg          sync.WaitGroup // connections
	hib         sync.WaitGroup // hibernations not yet resumed or ended (with their clean-up)

	// writers are the connections' output buffers, held only from the
	// first write of a batch to its flush: an idle session holds none.
	writers sync.Pool
}

// New builds a server; it does no I/O.
func New(cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	tlsCfg := cfg.TLS.Clone()
	if tlsCfg.MinVersion < tls.VersionTLS12 {
		tlsCfg.MinVersion = tls.VersionTLS12
	}
	cfg.TLS = tlsCfg
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{
		cfg:         cfg,
		metrics:     m,
		limits:      wire.Limits{MaxStanzaBytes: cfg.MaxStanzaBytes}.WithDefaults(),
		ctx:         ctx,
		cancel:      cancel,
		listeners:   make(map[net.Listener]struct{}),
		conns:       make(map[*conn]struct{}),
		resumable:   make(map[string]*session),
		hibernating: make(map[*session]struct{}),
	}, nil
}

// ServeSTARTTLS accepts connections on ln that start in plain text and must
// negotiate STARTTLS. It blocks until ln fails or Shutdown is called.
func (s *Server) ServeSTARTTLS(ln net.Listener) error { return s.serve(ln, "c2s", false) }

// ServeDirectTLS accepts connections on ln that open with a TLS handshake
// (XEP-0368).
func (s *Server) ServeDirectTLS(ln net.Listener) error { return s.serve(ln, "c2s-tls", true) }

func (s *Server) serve(ln net.Listener, name string, direct bool) error {
	defer ln.Close() // like net/http: the listener is ours once served
	if !s.track(ln) {
		return ErrServerClosed
	}
	defer s.untrack(ln)
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.isClosed() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, errTooManyFiles) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.cfg.Logger.Warn("accept failed; backing off", "listener", name, "err", err, "backoff", backoff)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		s.metrics.accepted.WithLabelValues(name).Inc()
		c := s.newConn(nc, name, direct)
		if !s.add(c) {
			nc.Close()
			return ErrServerClosed
		}
		go func() {
			defer s.remove(c)
			c.serve()
		}()
	}
}

// ServeHTTP upgrades a request to an RFC 7395 WebSocket XMPP session.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.serveWebSocket(w, r)
}

func (s *Server) track(ln net.Listener) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.listeners[ln] = struct{}{}
	return true
}

func (s *Server) untrack(ln net.Listener) {
	s.mu.Lock()
	delete(s.listeners, ln)
	s.mu.Unlock()
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

func (s *Server) add(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	s.metrics.connections.Inc()
	return true
}

func (s *Server) remove(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.metrics.connections.Dec()
	s.wg.Done()
}

// register makes s resumable under its id.
func (s *Server) register(sess *session) {
	s.mu.Lock()
	s.resumable[sess.id] = sess
	s.mu.Unlock()
}

// unregister forgets a session that ended.
func (s *Server) unregister(sess *session) {
	if sess.id == "" {
		return
	}
	s.mu.Lock()
	if s.resumable[sess.id] == sess {
		delete(s.resumable, sess.id)
	}
	s.mu.Unlock()
}

// lookup returns the resumable session with the id, or nil.
func (s *Server) lookup(id string) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.resumable[id]
}

// Shutdown stops accepting, ends every stream with the system-shutdown
// stream error and every hibernating session, and waits until each
// connection finished and each ended session handed back what it held
// (messages to offline storage, Router.Requeue), or until ctx ends: then
// the connections are closed and the requeueing is cancelled.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	for ln := range s.listeners {
		ln.Close()
	}
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	hib := make([]*session, 0, len(s.hibernating))
	for sess := range s.hibernating {
		hib = append(hib, sess)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.Close("system-shutdown")
	}
	for _, sess := range hib {
		sess.expire(0, "system-shutdown")
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		s.hib.Wait() // no hibernation starts once closed is set
		close(done)
	}()
	select {
	case <-done:
		s.cancel()
		return nil
	case <-ctx.Done():
		s.cancel()
		s.mu.Lock()
		for c := range s.conns {
			c.abort()
		}
		s.mu.Unlock()
		<-done
		return ctx.Err()
	}
}

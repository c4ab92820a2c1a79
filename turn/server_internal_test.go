package turn

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/pion/stun/v3"
)

// TestTCPDeadlines: a TCP client that sends nothing is cut after the
// first-frame deadline, one that goes quiet after the idle deadline.
func TestTCPDeadlines(t *testing.T) {
	s, err := New(Config{Listen: "127.0.0.1:0", Realm: "localhost", Secret: "s"})
	if err != nil {
		t.Fatal(err)
	}
	s.tcpFirstFrame, s.tcpIdle = 50*time.Millisecond, 200*time.Millisecond
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	addr := s.tcpAddr.String()
	binding := stun.MustBuild(stun.TransactionID, stun.BindingRequest).Raw
	tests := []struct {
		name    string
		send    [][]byte
		atLeast time.Duration
	}{
		// The server's clock starts at accept, a little before ours.
		{"silent", nil, 25 * time.Millisecond},
		{"one binding, then quiet", [][]byte{binding}, 200 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			start := time.Now()
			for _, b := range tc.send {
				if _, err := c.Write(b); err != nil {
					t.Fatal(err)
				}
			}
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err = io.Copy(io.Discard, c) // answers, then EOF when the server cuts
			var ne net.Error
			if err != nil && !(errors.As(err, &ne) && !ne.Timeout()) {
				t.Fatalf("reading until the server closes: %v", err)
			}
			if d := time.Since(start); d < tc.atLeast {
				t.Errorf("server closed after %v, want at least %v", d, tc.atLeast)
			}
		})
	}
}

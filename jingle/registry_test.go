package jingle_test

import (
	"context"
	"fmt"
	"maps"
	"math"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ringd/ringd/jingle"
)

const ring = 30 * time.Second

func TestRingTimeout(t *testing.T) {
	tests := []struct {
		name    string
		before  func(t *testing.T, f *fixture)
		want    map[string][]string
		stored  []string // carol's stored messages afterwards
		outcome map[string]float64
		active  float64
	}{
		{
			name:   "devices stop ringing and the caller stops calling",
			before: func(t *testing.T, f *fixture) { f.route(t, "a", propose("bob@localhost", "c1")) },
			want: map[string][]string{
				"phone":  {"retract c1 alice/a→bob timeout"},
				"laptop": {"retract c1 alice/a→bob timeout"},
				"desk":   {"retract c1 alice/a→bob timeout"},
				"a":      {"reject c1 bob→alice/a timeout"},
			},
			outcome: map[string]float64{"missed": 1},
		},
		{
			name:    "an offline callee reads the offer and the retract as a missed call",
			before:  func(t *testing.T, f *fixture) { f.route(t, "a", propose("carol@localhost", "c1")) },
			want:    map[string][]string{"a": {"reject c1 carol→alice/a timeout"}},
			stored:  []string{"propose c1 alice/a→carol", "retract c1 alice/a→carol timeout"},
			outcome: map[string]float64{"missed": 1},
		},
		{
			name: "a callee that took the stored offer is told at once",
			before: func(t *testing.T, f *fixture) {
				f.route(t, "a", propose("carol@localhost", "c1"))
				s, c := f.env.Bind(t, "carol@localhost/x", true)
				f.env.Router.InitialPresenceSent(context.Background(), s)
				f.conn["carol"] = c
				f.takeAll(t)
			},
			want: map[string][]string{
				"carol": {"retract c1 alice/a→carol timeout"},
				"a":     {"reject c1 carol→alice/a timeout"},
			},
			outcome: map[string]float64{"missed": 1},
		},
		{
			name: "an answered call does not time out",
			before: func(t *testing.T, f *fixture) {
				f.route(t, "a", propose("bob@localhost", "c1"))
				f.route(t, "phone", jmi("proceed", "alice@localhost", "c1", ""))
			},
			outcome: map[string]float64{},
			active:  1,
		},
		{
			name: "a retracted call is not stopped again",
			before: func(t *testing.T, f *fixture) {
				f.route(t, "a", propose("bob@localhost", "c1"))
				f.route(t, "a", jmi("retract", "bob@localhost", "c1", "cancel"))
			},
			outcome: map[string]float64{"cancelled": 1},
		},
		{
			name: "a call offered by Jingle alone ends missed without a message",
			before: func(t *testing.T, f *fixture) {
				f.observeIQ(t, "a", jingleIQ("bob@localhost/desk", "session-initiate", "j1", ""))
			},
			outcome: map[string]float64{"missed": 1},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := setup(t, jingle.Config{RingTimeout: ring})
				tc.before(t, f)
				f.takeAll(t)
				time.Sleep(ring - time.Millisecond)
				synctest.Wait()
				f.expect(t, nil)
				time.Sleep(time.Millisecond)
				synctest.Wait()
				f.expect(t, tc.want)
				if got := f.outcomes(t); !maps.Equal(got, tc.outcome) {
					t.Errorf("outcomes %v, want %v", got, tc.outcome)
				}
				if got := f.metric(t, "ringd_jingle_calls_active"); got != tc.active {
					t.Errorf("active calls = %v, want %v", got, tc.active)
				}
				msgs, err := f.env.Store.OfflineMessages(context.Background(), "carol", 10)
				if err != nil {
					t.Fatal(err)
				}
				var stored []string
				for _, m := range msgs {
					stored = append(stored, summary(t, string(m.Stanza)))
				}
				if !equal(stored, tc.stored) {
					t.Errorf("carol has %q stored, want %q", stored, tc.stored)
				}
				// Ended calls are kept one more ring timeout, then forgotten.
				time.Sleep(ring)
				synctest.Wait()
				if n, want := f.h.Len(), int(tc.active); n != want {
					t.Errorf("registry holds %d calls after two ring timeouts, want %d", n, want)
				}
			})
		})
	}
}

// TestCallMetrics walks one call through every step with known delays.
func TestCallMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := setup(t, jingle.Config{RingTimeout: ring})
		f.route(t, "a", propose("bob@localhost", "c1"))
		time.Sleep(2 * time.Second)
		f.route(t, "laptop", jmi("ringing", "alice@localhost", "c1", ""))
		time.Sleep(time.Second)
		f.route(t, "desk", jmi("ringing", "alice@localhost", "c1", "")) // not the first
		time.Sleep(2 * time.Second)
		f.route(t, "phone", jmi("proceed", "alice@localhost", "c1", ""))
		time.Sleep(500 * time.Millisecond)
		f.observeIQ(t, "a", jingleIQ("bob@localhost/phone", "session-initiate", "c1", ""))
		time.Sleep(250 * time.Millisecond)
		if got := f.outcomes(t); len(got) != 0 {
			t.Errorf("outcomes %v before session-accept, want none", got)
		}
		f.observeIQ(t, "phone", jingleIQ("alice@localhost/a", "session-accept", "c1", ""))
		for _, h := range []struct {
			name string
			sum  float64
		}{
			{"ringd_jingle_time_to_ring_seconds", 2},
			{"ringd_jingle_time_to_answer_seconds", 5},
			{"ringd_jingle_call_setup_seconds", 0.75},
		} {
			n, sum := f.histogram(t, h.name)
			if n != 1 || math.Abs(sum-h.sum) > 1e-9 {
				t.Errorf("%s: %d samples summing to %v, want 1 of %v", h.name, n, sum, h.sum)
			}
		}
		if got, want := f.outcomes(t), map[string]float64{"answered": 1}; !maps.Equal(got, want) {
			t.Errorf("outcomes %v, want %v", got, want)
		}
		if got := f.metric(t, "ringd_jingle_calls_active"); got != 1 {
			t.Errorf("active = %v during the call, want 1", got)
		}
		time.Sleep(time.Minute)
		f.observeIQ(t, "phone", jingleIQ("alice@localhost/a", "session-terminate", "c1", "success"))
		if got := f.metric(t, "ringd_jingle_calls_active"); got != 0 {
			t.Errorf("active = %v after session-terminate, want 0", got)
		}
		if got, want := f.outcomes(t), map[string]float64{"answered": 1}; !maps.Equal(got, want) {
			t.Errorf("outcomes %v after the end, want %v (counted once)", got, want)
		}
	})
}

func TestOutcomes(t *testing.T) {
	tests := []struct {
		name  string
		steps func(t *testing.T, f *fixture)
		want  string
	}{
		{"declined by session-terminate", func(t *testing.T, f *fixture) {
			f.observeIQ(t, "a", jingleIQ("bob@localhost/desk", "session-initiate", "j1", ""))
			f.observeIQ(t, "desk", jingleIQ("alice@localhost/a", "session-terminate", "j1", "decline"))
		}, "rejected"},
		{"cancelled by session-terminate", func(t *testing.T, f *fixture) {
			f.observeIQ(t, "a", jingleIQ("bob@localhost/desk", "session-initiate", "j1", ""))
			f.observeIQ(t, "a", jingleIQ("bob@localhost/desk", "session-terminate", "j1", "cancel"))
		}, "cancelled"},
		{"failed after the answer", func(t *testing.T, f *fixture) {
			f.route(t, "a", propose("bob@localhost", "c1"))
			f.route(t, "phone", jmi("proceed", "alice@localhost", "c1", ""))
			f.observeIQ(t, "a", jingleIQ("bob@localhost/phone", "session-initiate", "c1", ""))
			f.observeIQ(t, "phone", jingleIQ("alice@localhost/a", "session-terminate", "c1", "failed-transport"))
		}, "failed"},
		{"answered by Jingle alone", func(t *testing.T, f *fixture) {
			f.observeIQ(t, "a", jingleIQ("bob@localhost/desk", "session-initiate", "j1", ""))
			f.observeIQ(t, "desk", jingleIQ("alice@localhost/a", "session-accept", "j1", ""))
			f.observeIQ(t, "desk", jingleIQ("alice@localhost/a", "session-terminate", "j1", "success"))
		}, "answered"},
		{"the caller hangs up after the answer, before the session", func(t *testing.T, f *fixture) {
			f.route(t, "a", propose("bob@localhost", "c1"))
			f.route(t, "phone", jmi("proceed", "alice@localhost", "c1", ""))
			f.route(t, "a", jmi("retract", "bob@localhost", "c1", "cancel"))
		}, "cancelled"},
		{"a tie-break reject from a client", func(t *testing.T, f *fixture) {
			f.route(t, "a", propose("bob@localhost", "c1"))
			f.route(t, "phone", `<message type="chat" to="alice@localhost"><reject xmlns="urn:xmpp:jingle-message:0" id="c1">`+
				`<reason xmlns="urn:xmpp:jingle:1"><expired/></reason><tie-break/></reject></message>`)
		}, "glare"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t, jingle.Config{})
			tc.steps(t, f)
			if got, want := f.outcomes(t), map[string]float64{tc.want: 1}; !maps.Equal(got, want) {
				t.Errorf("outcomes %v, want %v", got, want)
			}
			if got := f.metric(t, "ringd_jingle_calls_active"); got != 0 {
				t.Errorf("active = %v, want 0", got)
			}
		})
	}
}

// TestRegistryBounded: calls that never end cannot grow the registry past
// MaxCalls, and the timer still ends the ones it holds.
func TestRegistryBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const maxCalls, offered = 100, 1000
		f := setup(t, jingle.Config{RingTimeout: ring, MaxCalls: maxCalls, MaxRinging: offered})
		for i := range offered {
			f.route(t, "a", propose("bob@localhost", fmt.Sprintf("call-%04d", i)))
			if i%100 == 0 {
				f.takeAll(t)
			}
		}
		if n := f.h.Len(); n != maxCalls {
			t.Errorf("registry holds %d calls, want %d", n, maxCalls)
		}
		if got := f.metric(t, "ringd_jingle_registry_evictions_total"); got != offered-maxCalls {
			t.Errorf("evictions = %v, want %d", got, offered-maxCalls)
		}
		if got := f.metric(t, "ringd_jingle_calls_active"); got != maxCalls {
			t.Errorf("active = %v, want %d", got, maxCalls)
		}
		// The newest calls are the ones kept: a retry of one is dropped.
		f.takeAll(t)
		f.route(t, "a", propose("bob@localhost", fmt.Sprintf("call-%04d", offered-1)))
		f.expect(t, nil)
		time.Sleep(ring)
		synctest.Wait()
		f.takeAll(t)
		if got := f.outcomes(t); got["missed"] != maxCalls {
			t.Errorf("outcomes %v, want %d missed", got, maxCalls)
		}
		time.Sleep(ring)
		synctest.Wait()
		if n := f.h.Len(); n != 0 {
			t.Errorf("registry holds %d calls at the end, want 0", n)
		}
	})
}

func TestCloseStopsTheTimer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := setup(t, jingle.Config{RingTimeout: ring})
		f.route(t, "a", propose("bob@localhost", "c1"))
		f.takeAll(t)
		f.h.Close()
		time.Sleep(2 * ring)
		synctest.Wait()
		f.expect(t, nil)
	})
}

func TestConfig(t *testing.T) {
	for _, cfg := range []jingle.Config{
		{RingTimeout: -1}, {CallTimeout: -1}, {MaxCalls: -1}, {MaxRinging: -1}, {MaxCounted: -1},
	} {
		if _, err := jingle.New(cfg); err == nil {
			t.Errorf("New(%+v) = nil error, want one", cfg)
		}
	}
}

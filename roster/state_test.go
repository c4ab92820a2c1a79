package roster

import (
	"testing"

	"github.com/ringd/ringd/storage"
)

// The nine states of RFC 6121 Appendix A.1 and the pre-approved ones of
// §3.4.
var (
	sNone     = state{}
	sNonePO   = state{pendingOut: true}
	sNonePI   = state{pendingIn: true}
	sNonePOPI = state{pendingOut: true, pendingIn: true}
	sTo       = state{to: true}
	sToPI     = state{to: true, pendingIn: true}
	sFrom     = state{from: true}
	sFromPO   = state{from: true, pendingOut: true}
	sBoth     = state{to: true, from: true}
	sNoneA    = state{approved: true}
	sNonePOA  = state{pendingOut: true, approved: true}
	sToA      = state{to: true, approved: true}
)

// noPreApprov marks a row for a server without pre-approval support.
const noPreApprov = true

type stateCase struct {
	name          string
	d             direction
	t             subType
	cur           state
	noPreApproval bool
	want          outcome
}

// fwd, push and the other flags of want are spelled out per row, so each
// row reads like the RFC table it comes from.
func stateCases() []stateCase {
	o := func(next state, fwd, push bool) outcome { return outcome{next: next, forward: fwd, push: push} }
	approve := func(next state, fwd bool) outcome {
		return outcome{next: next, forward: fwd, push: true, sendPresence: true}
	}
	cancel := func(next state) outcome {
		return outcome{next: next, forward: true, push: true, sendUnavailable: true}
	}
	auto := func(next state, push bool) outcome {
		return outcome{next: next, push: push, autoReply: true, sendPresence: true}
	}
	return []stateCase{
		// A.2.1 outbound subscribe: always routed.
		{"A.2.1 subscribe None → None + Pending Out", outbound, subscribe, sNone, false, o(sNonePO, true, true)},
		{"A.2.1 subscribe None + Pending Out → no state change", outbound, subscribe, sNonePO, false, o(sNonePO, true, false)},
		{"A.2.1 subscribe None + Pending In → None + Pending Out/In", outbound, subscribe, sNonePI, false, o(sNonePOPI, true, true)},
		{"A.2.1 subscribe None + Pending Out/In → no state change", outbound, subscribe, sNonePOPI, false, o(sNonePOPI, true, false)},
		{"A.2.1 subscribe To → no state change", outbound, subscribe, sTo, false, o(sTo, true, false)},
		{"A.2.1 subscribe To + Pending In → no state change", outbound, subscribe, sToPI, false, o(sToPI, true, false)},
		{"A.2.1 subscribe From → From + Pending Out", outbound, subscribe, sFrom, false, o(sFromPO, true, true)},
		{"A.2.1 subscribe From + Pending Out → no state change", outbound, subscribe, sFromPO, false, o(sFromPO, true, false)},
		{"A.2.1 subscribe Both → no state change", outbound, subscribe, sBoth, false, o(sBoth, true, false)},
		{"A.2.1 subscribe None + Approved keeps the pre-approval", outbound, subscribe, sNoneA, false, o(sNonePOA, true, true)},

		// A.2.2 outbound unsubscribe: always routed.
		{"A.2.2 unsubscribe None → no state change", outbound, unsubscribe, sNone, false, o(sNone, true, false)},
		{"A.2.2 unsubscribe None + Pending Out → None", outbound, unsubscribe, sNonePO, false, o(sNone, true, true)},
		{"A.2.2 unsubscribe None + Pending In → no state change", outbound, unsubscribe, sNonePI, false, o(sNonePI, true, false)},
		{"A.2.2 unsubscribe None + Pending Out/In → None + Pending In", outbound, unsubscribe, sNonePOPI, false, o(sNonePI, true, true)},
		{"A.2.2 unsubscribe To → None", outbound, unsubscribe, sTo, false, o(sNone, true, true)},
		{"A.2.2 unsubscribe To + Pending In → None + Pending In", outbound, unsubscribe, sToPI, false, o(sNonePI, true, true)},
		{"A.2.2 unsubscribe From → no state change", outbound, unsubscribe, sFrom, false, o(sFrom, true, false)},
		{"A.2.2 unsubscribe From + Pending Out → From", outbound, unsubscribe, sFromPO, false, o(sFrom, true, true)},
		{"A.2.2 unsubscribe Both → From", outbound, unsubscribe, sBoth, false, o(sFrom, true, true)},

		// A.2.3 outbound subscribed; with no request pending it is a
		// pre-approval (§3.4.1) when the server supports them.
		{"A.2.3 subscribed None → None + Approved (§3.4)", outbound, subscribed, sNone, false, o(sNoneA, false, true)},
		{"A.2.3 subscribed None + Pending Out → None + Pending Out + Approved (§3.4)", outbound, subscribed, sNonePO, false, o(sNonePOA, false, true)},
		{"A.2.3 subscribed None + Pending In → From", outbound, subscribed, sNonePI, false, approve(sFrom, true)},
		{"A.2.3 subscribed None + Pending Out/In → From + Pending Out", outbound, subscribed, sNonePOPI, false, approve(sFromPO, true)},
		{"A.2.3 subscribed To → To + Approved (§3.4)", outbound, subscribed, sTo, false, o(sToA, false, true)},
		{"A.2.3 subscribed To + Pending In → Both", outbound, subscribed, sToPI, false, approve(sBoth, true)},
		{"A.2.3 subscribed From → no state change", outbound, subscribed, sFrom, false, o(sFrom, false, false)},
		{"A.2.3 subscribed From + Pending Out → no state change", outbound, subscribed, sFromPO, false, o(sFromPO, false, false)},
		{"A.2.3 subscribed Both → no state change", outbound, subscribed, sBoth, false, o(sBoth, false, false)},
		{"A.2.3 subscribed None → no state change without pre-approval", outbound, subscribed, sNone, noPreApprov, o(sNone, false, false)},
		{"A.2.3 subscribed None + Pending Out → no state change without pre-approval", outbound, subscribed, sNonePO, noPreApprov, o(sNonePO, false, false)},
		{"A.2.3 subscribed To → no state change without pre-approval", outbound, subscribed, sTo, noPreApprov, o(sTo, false, false)},
		{"A.2.3 subscribed None + Approved → no state change (already pre-approved)", outbound, subscribed, sNoneA, false, o(sNoneA, false, false)},

		// A.2.4 outbound unsubscribed; cancels a pre-approval (§3.2.2 rule 2).
		{"A.2.4 unsubscribed None → no state change", outbound, unsubscribed, sNone, false, o(sNone, false, false)},
		{"A.2.4 unsubscribed None + Pending Out → no state change", outbound, unsubscribed, sNonePO, false, o(sNonePO, false, false)},
		{"A.2.4 unsubscribed None + Pending In → None", outbound, unsubscribed, sNonePI, false, o(sNone, true, false)},
		{"A.2.4 unsubscribed None + Pending Out/In → None + Pending Out", outbound, unsubscribed, sNonePOPI, false, o(sNonePO, true, false)},
		{"A.2.4 unsubscribed To → no state change", outbound, unsubscribed, sTo, false, o(sTo, false, false)},
		{"A.2.4 unsubscribed To + Pending In → To", outbound, unsubscribed, sToPI, false, o(sTo, true, false)},
		{"A.2.4 unsubscribed From → None", outbound, unsubscribed, sFrom, false, cancel(sNone)},
		{"A.2.4 unsubscribed From + Pending Out → None + Pending Out", outbound, unsubscribed, sFromPO, false, cancel(sNonePO)},
		{"A.2.4 unsubscribed Both → To", outbound, unsubscribed, sBoth, false, cancel(sTo)},
		{"A.2.4 unsubscribed None + Approved → None (§3.2.2 cancels the pre-approval)", outbound, unsubscribed, sNoneA, false, o(sNone, false, true)},
		{"A.2.4 unsubscribed None + Pending Out + Approved → None + Pending Out (§3.2.2)", outbound, unsubscribed, sNonePOA, false, o(sNonePO, false, true)},
		{"A.2.4 unsubscribed To + Approved → To (§3.2.2)", outbound, unsubscribed, sToA, false, o(sTo, false, true)},

		// A.3.1 inbound subscribe; * rows auto-reply subscribed.
		{"A.3.1 subscribe None → None + Pending In", inbound, subscribe, sNone, false, o(sNonePI, true, false)},
		{"A.3.1 subscribe None + Pending Out → None + Pending Out/In", inbound, subscribe, sNonePO, false, o(sNonePOPI, true, false)},
		{"A.3.1 subscribe None + Pending In → no state change", inbound, subscribe, sNonePI, false, o(sNonePI, false, false)},
		{"A.3.1 subscribe None + Pending Out/In → no state change", inbound, subscribe, sNonePOPI, false, o(sNonePOPI, false, false)},
		{"A.3.1 subscribe To → To + Pending In", inbound, subscribe, sTo, false, o(sToPI, true, false)},
		{"A.3.1 subscribe To + Pending In → no state change", inbound, subscribe, sToPI, false, o(sToPI, false, false)},
		{"A.3.1 subscribe From → no state change, auto-reply", inbound, subscribe, sFrom, false, auto(sFrom, false)},
		{"A.3.1 subscribe From + Pending Out → no state change, auto-reply", inbound, subscribe, sFromPO, false, auto(sFromPO, false)},
		{"A.3.1 subscribe Both → no state change, auto-reply", inbound, subscribe, sBoth, false, auto(sBoth, false)},
		{"A.3.1 subscribe None + Approved → From, auto-reply (§3.4)", inbound, subscribe, sNoneA, false, auto(sFrom, true)},
		{"A.3.1 subscribe None + Pending Out + Approved → From + Pending Out, auto-reply (§3.4)", inbound, subscribe, sNonePOA, false, auto(sFromPO, true)},
		{"A.3.1 subscribe To + Approved → Both, auto-reply (§3.4)", inbound, subscribe, sToA, false, auto(sBoth, true)},

		// A.3.2 inbound unsubscribe.
		{"A.3.2 unsubscribe None → no state change", inbound, unsubscribe, sNone, false, o(sNone, false, false)},
		{"A.3.2 unsubscribe None + Pending Out → no state change", inbound, unsubscribe, sNonePO, false, o(sNonePO, false, false)},
		{"A.3.2 unsubscribe None + Pending In → None", inbound, unsubscribe, sNonePI, false, o(sNone, true, false)},
		{"A.3.2 unsubscribe None + Pending Out/In → None + Pending Out", inbound, unsubscribe, sNonePOPI, false, o(sNonePO, true, false)},
		{"A.3.2 unsubscribe To → no state change", inbound, unsubscribe, sTo, false, o(sTo, false, false)},
		{"A.3.2 unsubscribe To + Pending In → To", inbound, unsubscribe, sToPI, false, o(sTo, true, false)},
		{"A.3.2 unsubscribe From → None", inbound, unsubscribe, sFrom, false, cancel(sNone)},
		{"A.3.2 unsubscribe From + Pending Out → None + Pending Out", inbound, unsubscribe, sFromPO, false, cancel(sNonePO)},
		{"A.3.2 unsubscribe Both → To", inbound, unsubscribe, sBoth, false, cancel(sTo)},

		// A.3.3 inbound subscribed.
		{"A.3.3 subscribed None → no state change", inbound, subscribed, sNone, false, o(sNone, false, false)},
		{"A.3.3 subscribed None + Pending Out → To", inbound, subscribed, sNonePO, false, o(sTo, true, true)},
		{"A.3.3 subscribed None + Pending In → no state change", inbound, subscribed, sNonePI, false, o(sNonePI, false, false)},
		{"A.3.3 subscribed None + Pending Out/In → To + Pending In", inbound, subscribed, sNonePOPI, false, o(sToPI, true, true)},
		{"A.3.3 subscribed To → no state change", inbound, subscribed, sTo, false, o(sTo, false, false)},
		{"A.3.3 subscribed To + Pending In → no state change", inbound, subscribed, sToPI, false, o(sToPI, false, false)},
		{"A.3.3 subscribed From → no state change", inbound, subscribed, sFrom, false, o(sFrom, false, false)},
		{"A.3.3 subscribed From + Pending Out → Both", inbound, subscribed, sFromPO, false, o(sBoth, true, true)},
		{"A.3.3 subscribed Both → no state change", inbound, subscribed, sBoth, false, o(sBoth, false, false)},

		// A.3.4 inbound unsubscribed.
		{"A.3.4 unsubscribed None → no state change", inbound, unsubscribed, sNone, false, o(sNone, false, false)},
		{"A.3.4 unsubscribed None + Pending Out → None", inbound, unsubscribed, sNonePO, false, o(sNone, true, true)},
		{"A.3.4 unsubscribed None + Pending In → no state change", inbound, unsubscribed, sNonePI, false, o(sNonePI, false, false)},
		{"A.3.4 unsubscribed None + Pending Out/In → None + Pending In", inbound, unsubscribed, sNonePOPI, false, o(sNonePI, true, true)},
		{"A.3.4 unsubscribed To → None", inbound, unsubscribed, sTo, false, o(sNone, true, true)},
		{"A.3.4 unsubscribed To + Pending In → None + Pending In", inbound, unsubscribed, sToPI, false, o(sNonePI, true, true)},
		{"A.3.4 unsubscribed From → no state change", inbound, unsubscribed, sFrom, false, o(sFrom, false, false)},
		{"A.3.4 unsubscribed From + Pending Out → From", inbound, unsubscribed, sFromPO, false, o(sFrom, true, true)},
		{"A.3.4 unsubscribed Both → From", inbound, unsubscribed, sBoth, false, o(sFrom, true, true)},
	}
}

func TestTransition(t *testing.T) {
	for _, tc := range stateCases() {
		t.Run(tc.name, func(t *testing.T) {
			got := transition(tc.cur, tc.d, tc.t, !tc.noPreApproval)
			if got != tc.want {
				t.Errorf("transition(%v, %v, %v) = %+v (%v), want %+v (%v)",
					tc.cur, tc.d, tc.t, got, got.next, tc.want, tc.want.next)
			}
		})
	}
}

// TestTransitionCoversAppendixA checks that the table has a row for every
// (direction, type, state) of RFC 6121 Appendix A.
func TestTransitionCoversAppendixA(t *testing.T) {
	states := []state{sNone, sNonePO, sNonePI, sNonePOPI, sTo, sToPI, sFrom, sFromPO, sBoth}
	seen := map[[3]any]bool{}
	for _, tc := range stateCases() {
		if !tc.noPreApproval {
			seen[[3]any{tc.d, tc.t, tc.cur}] = true
		}
	}
	for _, d := range []direction{outbound, inbound} {
		for _, typ := range []subType{subscribe, subscribed, unsubscribe, unsubscribed} {
			for _, st := range states {
				if !seen[[3]any{d, typ, st}] {
					t.Errorf("no case for %v %v in %v", d, typ, st)
				}
			}
		}
	}
}

func TestStateRoundTrip(t *testing.T) {
	tests := []struct {
		name      string
		item      *storage.RosterItem
		pendingIn bool
		want      state
		wantSub   storage.Subscription
	}{
		{"no item", nil, false, sNone, storage.SubNone},
		{"no item, pending in", nil, true, sNonePI, storage.SubNone},
		{"none ask", &storage.RosterItem{Subscription: storage.SubNone, Ask: true}, false, sNonePO, storage.SubNone},
		{"to, pending in", &storage.RosterItem{Subscription: storage.SubTo}, true, sToPI, storage.SubTo},
		{"from ask", &storage.RosterItem{Subscription: storage.SubFrom, Ask: true}, false, sFromPO, storage.SubFrom},
		{"both", &storage.RosterItem{Subscription: storage.SubBoth}, false, sBoth, storage.SubBoth},
		{"to approved", &storage.RosterItem{Subscription: storage.SubTo, Approved: true}, false, sToA, storage.SubTo},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := stateOf(tc.item, tc.pendingIn)
			if got != tc.want {
				t.Fatalf("stateOf(%+v, %v) = %v, want %v", tc.item, tc.pendingIn, got, tc.want)
			}
			var it storage.RosterItem
			got.apply(&it)
			if it.Subscription != tc.wantSub || it.Ask != got.pendingOut || it.Approved != got.approved {
				t.Errorf("apply(%v) = %+v, want subscription %v", got, it, tc.wantSub)
			}
		})
	}
}

func TestStateString(t *testing.T) {
	tests := []struct {
		st   state
		want string
	}{
		{sNone, "None"},
		{sNonePOPI, "None + Pending Out/In"},
		{sToPI, "To + Pending In"},
		{sFromPO, "From + Pending Out"},
		{sBoth, "Both"},
		{sNoneA, "None + Approved"},
	}
	for _, tc := range tests {
		if got := tc.st.String(); got != tc.want {
			t.Errorf("%+v.String() = %q, want %q", tc.st, got, tc.want)
		}
	}
}

package presence

import (
	"strings"
	"testing"

	"github.com/ringd/ringd/xmpp/wire"
)

func decode(t *testing.T, x string) *wire.Stanza {
	t.Helper()
	st, err := wire.NewFramedDecoder(strings.NewReader(x), wire.Limits{}).Next()
	if err != nil {
		t.Fatalf("decode %q: %v", x, err)
	}
	return st
}

func TestParsePriority(t *testing.T) {
	// Nine children before the priority: past what wire indexes.
	crowd := strings.Repeat(`<c xmlns="urn:example:c"/>`, wire.MaxChildren+1)
	cases := []struct {
		name    string
		x       string
		want    int
		wantErr bool
	}{
		{name: "absent", x: `<presence/>`, want: 0},
		{name: "absent with children", x: `<presence><show>away</show><status>x</status></presence>`, want: 0},
		{name: "positive", x: `<presence><priority>5</priority></presence>`, want: 5},
		{name: "minimum with spaces", x: `<presence><priority> -128 </priority></presence>`, want: -128},
		{name: "maximum with sign", x: `<presence><priority>+127</priority></presence>`, want: 127},
		{name: "leading zeros", x: `<presence><priority>007</priority></presence>`, want: 7},
		{name: "character reference", x: `<presence><priority>&#x35;</priority></presence>`, want: 5},
		{name: "CDATA", x: `<presence><priority><![CDATA[3]]></priority></presence>`, want: 3},
		{name: "quoted > in an attribute", x: `<presence><priority a="x>y">4</priority></presence>`, want: 4},
		{name: "other namespace is not the priority", x: `<presence><priority xmlns="urn:example:p">9</priority></presence>`, want: 0},
		{name: "past the indexed children", x: `<presence>` + crowd + `<priority>12</priority></presence>`, want: 12},
		{name: "too big", x: `<presence><priority>128</priority></presence>`, wantErr: true},
		{name: "too small", x: `<presence><priority>-129</priority></presence>`, wantErr: true},
		{name: "huge", x: `<presence><priority>99999999999999999999</priority></presence>`, wantErr: true},
		{name: "empty", x: `<presence><priority></priority></presence>`, wantErr: true},
		{name: "self-closing", x: `<presence><priority/></presence>`, wantErr: true},
		{name: "only a sign", x: `<presence><priority>-</priority></presence>`, wantErr: true},
		{name: "decimal", x: `<presence><priority>1.5</priority></presence>`, wantErr: true},
		{name: "word", x: `<presence><priority>high</priority></presence>`, wantErr: true},
		{name: "markup inside", x: `<presence><priority>1<b/></priority></presence>`, wantErr: true},
		{name: "twice", x: `<presence><priority>1</priority><priority>2</priority></presence>`, wantErr: true},
		{name: "twice, once past the indexed children", x: `<presence><priority>1</priority>` + crowd + `<priority>2</priority></presence>`, wantErr: true},
		{name: "invalid past the indexed children", x: `<presence>` + crowd + `<priority>x</priority></presence>`, wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parsePriority(decode(t, tc.x))
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("parsePriority(%q) = %v, %v; want %v, error %v", tc.x, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestPriorityRecorded(t *testing.T) {
	cases := []struct {
		name          string
		x             string
		wantAvailable bool
		wantPriority  int
	}{
		{name: "default", x: `<presence/>`, wantAvailable: true, wantPriority: 0},
		{name: "negative", x: `<presence><priority>-5</priority></presence>`, wantAvailable: true, wantPriority: -5},
		{name: "invalid leaves the session unavailable", x: `<presence><priority>300</priority></presence>`, wantAvailable: false, wantPriority: 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			cl := e.bind("alice/phone")
			e.send("alice/phone", tc.x)
			if got := cl.s.Available(); got != tc.wantAvailable {
				t.Errorf("Available() = %v, want %v", got, tc.wantAvailable)
			}
			if got := cl.s.Priority(); got != tc.wantPriority {
				t.Errorf("Priority() = %v, want %v", got, tc.wantPriority)
			}
		})
	}
}

func TestWithToAndChild(t *testing.T) {
	cases := []struct {
		name string
		raw  string
		want string
	}{
		{
			name: "self-closing",
			raw:  `<presence from="a@x/r"/>`,
			want: `<presence to="b@x/s&amp;" from="a@x/r"><d/></presence>`,
		},
		{
			name: "self-closing with space",
			raw:  `<presence from="a@x/r" />`,
			want: `<presence to="b@x/s&amp;" from="a@x/r" ><d/></presence>`,
		},
		{
			name: "with children",
			raw:  `<presence from="a@x/r"><show>away</show></presence>`,
			want: `<presence to="b@x/s&amp;" from="a@x/r"><show>away</show><d/></presence>`,
		},
		{
			name: "prefixed",
			raw:  `<c:presence xmlns:c="jabber:client" from="a@x/r"/>`,
			want: `<c:presence to="b@x/s&amp;" xmlns:c="jabber:client" from="a@x/r"><d/></c:presence>`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(withToAndChild([]byte(tc.raw), "b@x/s&", []byte(`<d/>`))); got != tc.want {
				t.Errorf("withToAndChild(%q) = %q, want %q", tc.raw, got, tc.want)
			}
		})
	}
}

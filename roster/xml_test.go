package roster

import "testing"

func TestSetAttr(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want string
	}{
		{"double quotes", `<presence from="a@x" to="b@x/r" type="subscribe"/>`, `<presence from="a@x" to="b@x" type="subscribe"/>`},
		{"single quotes", `<presence to='b@x/r' id='1'><status>hi</status></presence>`, `<presence to='b@x' id='1'><status>hi</status></presence>`},
		{"spaces around =", "<presence id='a>b'\n to = \"b@x/r\"/>", "<presence id='a>b'\n to = \"b@x\"/>"},
		{"similar names", `<presence xto="1" tox="2" xml:to="3" to="b@x/r"/>`, `<presence xto="1" tox="2" xml:to="3" to="b@x"/>`},
		{"no to", `<presence type="subscribe">to="b@x/r"</presence>`, `<presence type="subscribe">to="b@x/r"</presence>`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(setAttr([]byte(tc.raw), "to", "b@x")); got != tc.want {
				t.Errorf("setAttr(%q) = %q, want %q", tc.raw, got, tc.want)
			}
		})
	}
}

func TestStreamFeatures(t *testing.T) {
	got := StreamFeatures()
	want := []string{`<ver xmlns="urn:xmpp:features:rosterver"/>`, `<sub xmlns="urn:xmpp:features:pre-approval"/>`}
	if len(got) != len(want) {
		t.Fatalf("StreamFeatures() = %q, want %q", got, want)
	}
	for i := range want {
		if string(got[i]) != want[i] {
			t.Errorf("StreamFeatures()[%d] = %s, want %s", i, got[i], want[i])
		}
	}
}

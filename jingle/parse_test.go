package jingle

import "testing"

func TestAttr(t *testing.T) {
	tests := []struct {
		name, elem, attr string
		want             string
		ok               bool
	}{
		{"double quotes", `<propose xmlns="urn:xmpp:jingle-message:0" id="c1"/>`, "id", "c1", true},
		{"single quotes", `<propose xmlns='urn:xmpp:jingle-message:0' id='c1'>`, "id", "c1", true},
		{"spaces around =", "<propose\n id = 'c1' >", "id", "c1", true},
		{"> inside a value", `<propose x="a>b" id="c1"/>`, "id", "c1", true},
		{"quote of the other kind", `<propose x="it's" id="c1"/>`, "id", "c1", true},
		{"escaped", `<propose id="a&amp;b"/>`, "id", "a&b", true},
		{"prefixed name does not match", `<propose xml:id="c1"/>`, "id", "", false},
		{"suffix does not match", `<propose sid="c1"/>`, "id", "", false},
		{"absent", `<propose/>`, "id", "", false},
		{"empty", `<propose id=""/>`, "id", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := attrString([]byte(tc.elem), tc.attr)
			if got != tc.want || ok != tc.ok {
				t.Errorf("attrString(%q, %q) = %q, %v, want %q, %v", tc.elem, tc.attr, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestReason(t *testing.T) {
	tests := []struct{ elem, want string }{
		{`<finish id="c1"><reason xmlns="urn:xmpp:jingle:1"><success/><text>Success</text></reason></finish>`, "success"},
		{`<finish id="c1"><reason xmlns="urn:xmpp:jingle:1"><text>x</text><connectivity-error/></reason></finish>`, "connectivity-error"},
		{`<jingle action="session-terminate"><j:reason xmlns:j="urn:xmpp:jingle:1"><j:decline/></j:reason></jingle>`, "decline"},
		{`<finish id="c1"><x><![CDATA[<reason><busy/></reason>]]></x></finish>`, ""},
		{`<retract id="c1"/>`, ""},
	}
	for _, tc := range tests {
		if got := reasonOf([]byte(tc.elem)); got != tc.want {
			t.Errorf("reasonOf(%q) = %q, want %q", tc.elem, got, tc.want)
		}
	}
	if !hasDescendant([]byte(`<reject id="c1"><reason><expired/></reason><tie-break/></reject>`), "tie-break") {
		t.Error("hasDescendant missed <tie-break/>")
	}
}

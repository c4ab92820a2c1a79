package router_test

import (
	"testing"

	"github.com/ringd/ringd/xmpp/router"
)

func TestAppendStamped(t *testing.T) {
	const ins = `<x xmlns="urn:x"/>`
	tests := []struct {
		name     string
		in       string
		insert   string
		clientNS bool
		want     string
	}{
		{
			name: "from added, child inserted last",
			in:   `<message to="b@localhost"><body>hi</body></message>`, insert: ins,
			want: `<message from="a@localhost/r" to="b@localhost"><body>hi</body><x xmlns="urn:x"/></message>`,
		},
		{
			name: "a forged from is replaced",
			in:   `<message from="evil@localhost/x" to="b@localhost"><body>hi</body></message>`,
			want: `<message from="a@localhost/r" to="b@localhost"><body>hi</body></message>`,
		},
		{
			name:   "client stanza-ids are dropped wherever they are",
			in:     `<message to="b@localhost"><stanza-id xmlns="urn:xmpp:sid:0" id="f1" by="b@localhost"/><body>hi</body><stanza-id xmlns="urn:xmpp:sid:0" id="f2" by="b@localhost"/></message>`,
			insert: ins,
			want:   `<message from="a@localhost/r" to="b@localhost"><body>hi</body><x xmlns="urn:x"/></message>`,
		},
		{
			name: "origin-id is kept",
			in:   `<message to="b@localhost"><origin-id xmlns="urn:xmpp:sid:0" id="o1"/></message>`,
			want: `<message from="a@localhost/r" to="b@localhost"><origin-id xmlns="urn:xmpp:sid:0" id="o1"/></message>`,
		},
		{
			name: "a self-closing message is expanded to hold the insert",
			in:   `<message to="b@localhost"/>`, insert: ins,
			want: `<message from="a@localhost/r" to="b@localhost"><x xmlns="urn:x"/></message>`,
		},
		{
			name: "clientNS declares jabber:client when absent",
			in:   `<message to="b@localhost"><body>hi</body></message>`, clientNS: true,
			want: `<message xmlns="jabber:client" from="a@localhost/r" to="b@localhost"><body>hi</body></message>`,
		},
		{
			name: "clientNS keeps a declared namespace",
			in:   `<message xmlns="jabber:client" to="b@localhost"><body>hi</body></message>`, clientNS: true,
			want: `<message from="a@localhost/r" xmlns="jabber:client" to="b@localhost"><body>hi</body></message>`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var insert []byte
			if tc.insert != "" {
				insert = []byte(tc.insert)
			}
			got := string(router.AppendStamped(nil, parse(t, tc.in), "a@localhost/r", insert, tc.clientNS))
			if got != tc.want {
				t.Errorf("AppendStamped(%q) =\n%s\nwant\n%s", tc.in, got, tc.want)
			}
		})
	}
}

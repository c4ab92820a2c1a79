package c2s

import "encoding/xml"

// xmlUnmarshal decodes a small negotiation element. Negotiation happens once
// per connection, so encoding/xml's cost does not matter here.
func xmlUnmarshal(b []byte, v any) error { return xml.Unmarshal(b, v) }

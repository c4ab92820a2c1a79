package push

import (
	"bytes"
	"encoding/xml"

	"github.com/ringd/ringd/xmpp/wire"
)

// Body fields: a registration whose publish-options form has one of these
// set to true (XEP-0004 boolean: "1" or "true") gets the message body in
// its notifications. Neither XEP-0357 nor a XEP defines a per-registration
// switch; "include-body" follows XEP-0357's own hyphenated field names
// (last-message-body), "include_body" the spelling of ejabberd's mod_push
// option of the same meaning. The field stays in the form the app server
// gets, like every other field the client put there.
var bodyFields = []string{"include-body", "include_body"}

type xmlForm struct {
	Type   string     `xml:"type,attr"`
	Fields []xmlField `xml:"jabber:x:data field"`
}

type xmlField struct {
	Var    string   `xml:"var,attr"`
	Type   string   `xml:"type,attr"`
	Values []string `xml:"jabber:x:data value"`
}

func (f xmlForm) field(name string) (xmlField, bool) {
	for _, fl := range f.Fields {
		if fl.Var == name {
			return fl, true
		}
	}
	return xmlField{}, false
}

// publishOptions checks the form a client put in <enable/> (XEP-0357 §5: a
// submitted form of FORM_TYPE pubsub#publish-options) and returns it
// written anew: a fixed namespace declaration, fields and values escaped,
// nothing else (no labels, no foreign elements). Stored that way it is
// well-formed out of the context it came from, whatever prefixes the
// client used.
func publishOptions(f xmlForm) ([]byte, error) {
	if f.Type != "submit" {
		return nil, badRequest("publish-options must be a submitted form")
	}
	ft, ok := f.field("FORM_TYPE")
	if !ok || len(ft.Values) != 1 || ft.Values[0] != NSPublishOptions {
		return nil, badRequest("publish-options must have FORM_TYPE " + NSPublishOptions)
	}
	if len(f.Fields) > maxFields {
		return nil, badRequest("too many publish-options fields")
	}
	b := appendForm(nil, f)
	if len(b) > maxOptionsBytes {
		return nil, badRequest("publish-options too large")
	}
	return b, nil
}

// appendForm writes f as a submitted jabber:x:data form.
func appendForm(b []byte, f xmlForm) []byte {
	b = append(b, `<x xmlns="`+NSData+`" type="submit">`...)
	for _, fl := range f.Fields {
		b = append(b, `<field var="`...)
		b = wire.AppendEscaped(b, fl.Var)
		b = append(b, '"')
		if fl.Type != "" {
			b = append(b, ` type="`...)
			b = wire.AppendEscaped(b, fl.Type)
			b = append(b, '"')
		}
		b = append(b, '>')
		for _, v := range fl.Values {
			b = append(b, `<value>`...)
			b = wire.AppendEscaped(b, v)
			b = append(b, `</value>`...)
		}
		b = append(b, `</field>`...)
	}
	return append(b, `</x>`...)
}

// includeBody reports whether stored publish-options allow message bodies
// in notifications.
func includeBody(opts []byte) bool {
	if len(opts) == 0 || !bytes.Contains(opts, []byte("include")) {
		return false
	}
	var f xmlForm
	if err := xml.Unmarshal(opts, &f); err != nil {
		return false
	}
	for _, name := range bodyFields {
		if fl, ok := f.field(name); ok && len(fl.Values) == 1 {
			switch fl.Values[0] {
			case "1", "true":
				return true
			}
		}
	}
	return false
}

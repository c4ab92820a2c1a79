// Package disco answers XEP-0030 service discovery for the server and for
// accounts' bare JIDs: identities, and the features every other module
// registered with the router. It owns no features of its own beyond
// disco#info and disco#items; it must not know which modules exist.
package disco

// Package ping answers XEP-0199 pings addressed to the server or to the
// sender's own account. Pings between clients are routed like any IQ and
// never reach this package.
package ping

// Package server assembles a ringd instance and runs its lifecycle: it opens
// the store, loads or generates the TLS certificate, builds the router and
// registers every feature (roster, presence, disco, ping, version, …) on it,
// starts the c2s, WebSocket and metrics listeners in dependency order and
// stops them in reverse.
//
// It owns the logger and the Prometheus registry handed to each component.
// It must not implement protocol itself: a feature is a package registered
// here, never code in this package or in c2s.
package server

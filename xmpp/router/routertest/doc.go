// Package routertest runs features against a real router in tests: a
// router over a real SQLite store in a temporary directory, sessions bound
// to a Conn that records what it is given, and a helper that decodes
// stanzas from strings with the real wire decoder. It is for tests only
// and must not be imported by production code.
package routertest

// Package version answers XEP-0092 software version queries to the server
// with the server's name and version. It does not reveal the operating
// system (XEP-0092 §4 lets a server leave it out).
package version

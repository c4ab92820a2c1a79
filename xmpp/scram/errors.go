package scram

// FailureError is a failed SASL exchange. Condition names the RFC 6120 §6.5
// failure condition to send to the client; the rest of the error (Error,
// Unwrap) is detail for the server's logs and must never reach the client,
// which would otherwise learn which check failed.
//
// Every error returned by Server.Step and Server.Abort is a *FailureError.
// Test for a condition with errors.Is(err, ErrNotAuthorized) and friends.
type FailureError struct {
	condition string
	detail    string // why, for logs; never a password, proof or payload
	err       error  // underlying cause, e.g. a storage error
}

// Sentinel failures, one per RFC 6120 §6.5 condition this package reports.
var (
	// ErrAborted: the client sent <abort/> (§6.5.1).
	ErrAborted = &FailureError{condition: "aborted"}
	// ErrEncryptionRequired: PLAIN was requested on a stream without TLS
	// (§6.5.4).
	ErrEncryptionRequired = &FailureError{condition: "encryption-required"}
	// ErrInvalidAuthzid: an authorization identity other than the
	// authenticating user (§6.5.6).
	ErrInvalidAuthzid = &FailureError{condition: "invalid-authzid"}
	// ErrInvalidMechanism: a mechanism this package does not implement
	// (§6.5.7).
	ErrInvalidMechanism = &FailureError{condition: "invalid-mechanism"}
	// ErrMalformedRequest: a message that violates the mechanism's syntax or
	// size limit, or a message after the exchange ended (§6.5.8).
	ErrMalformedRequest = &FailureError{condition: "malformed-request"}
	// ErrNotAuthorized: wrong password, unknown user, bad proof, nonce or
	// channel binding, unsupported channel binding or mandatory extension
	// (§6.5.10).
	ErrNotAuthorized = &FailureError{condition: "not-authorized"}
	// ErrTemporaryAuthFailure: the credential lookup failed (§6.5.13).
	ErrTemporaryAuthFailure = &FailureError{condition: "temporary-auth-failure"}
)

// Condition returns the RFC 6120 §6.5 condition, the name of the child
// element of <failure/>, e.g. "not-authorized".
func (e *FailureError) Condition() string { return e.condition }

func (e *FailureError) Error() string {
	msg := "scram: " + e.condition
	if e.detail != "" {
		msg += ": " + e.detail
	}
	if e.err != nil {
		msg += ": " + e.err.Error()
	}
	return msg
}

// Unwrap returns the underlying cause, if any.
func (e *FailureError) Unwrap() error { return e.err }

// Is reports whether target is the sentinel of e's condition.
func (e *FailureError) Is(target error) bool {
	t, ok := target.(*FailureError)
	return ok && t.detail == "" && t.err == nil && t.condition == e.condition
}

// failure returns a new error of kind's condition.
func failure(kind *FailureError, detail string, err error) *FailureError {
	return &FailureError{condition: kind.condition, detail: detail, err: err}
}

func malformed(detail string) *FailureError { return failure(ErrMalformedRequest, detail, nil) }

func notAuthorized(detail string) *FailureError { return failure(ErrNotAuthorized, detail, nil) }

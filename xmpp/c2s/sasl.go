package c2s

import (
	"context"
	"errors"

	"mellium.im/xmpp/stanza"

	"github.com/ringd/ringd/storage"
	"github.com/ringd/ringd/xmpp/scram"
)

// conditionOf is the <failure/> condition of a scram error; every error
// scram returns is a *scram.FailureError.
func conditionOf(err error) string {
	var fe *scram.FailureError
	if errors.As(err, &fe) {
		return fe.Condition()
	}
	return "temporary-auth-failure"
}

func stanzaErr(cond string) stanza.Error {
	return stanza.Error{Condition: stanza.Condition(cond)}
}

// runSASL runs one SASL exchange (RFC 6120 §6.4) started by <auth/>. It
// returns true on success; false after a <failure/> was sent.
func (c *conn) runSASL(mechanism, initial string) (bool, error) {
	mech := scram.Mechanism(mechanism)
	switch mech {
	case scram.SHA256, scram.SHA1:
	case scram.Plain:
		if !c.secure {
			c.srv.metrics.auth.WithLabelValues(mechanism, "failure").Inc()
			return false, c.saslFailure("encryption-required")
		}
	default:
		c.srv.metrics.auth.WithLabelValues("other", "failure").Inc()
		return false, c.saslFailure("invalid-mechanism")
	}
	lookup := func(ctx context.Context, username string) (storage.Credentials, error) {
		return c.srv.cfg.Users.Credentials(ctx, username)
	}
	srv, err := scram.NewServer(mech, lookup, scram.WithDomain(c.srv.cfg.Domain),
		scram.WithSecret(c.srv.cfg.Secret), scram.WithTLS(c.secure))
	if err != nil {
		return false, &internalError{err}
	}
	in, ok := decodeSASL(initial)
	if !ok {
		c.srv.metrics.auth.WithLabelValues(mechanism, "failure").Inc()
		return false, c.saslFailure("incorrect-encoding")
	}
	for {
		out, done, err := srv.Step(c.ctx, in)
		if err != nil {
			cond := conditionOf(err)
			if cond == "temporary-auth-failure" {
				c.log.Error("SASL failed", "err", err)
			}
			c.srv.metrics.auth.WithLabelValues(mechanism, "failure").Inc()
			c.log.Info("authentication failed", "mechanism", mechanism, "condition", cond)
			return false, c.saslFailure(cond)
		}
		if done {
			c.username = srv.Username()
			c.srv.metrics.auth.WithLabelValues(mechanism, "success").Inc()
			if len(out) == 0 {
				return true, c.writeNow([]byte(`<success xmlns="` + nsSASL + `"/>`))
			}
			return true, c.writeNow([]byte(`<success xmlns="` + nsSASL + `">` + encodeSASL(out) + `</success>`))
		}
		if err := c.writeNow([]byte(`<challenge xmlns="` + nsSASL + `">` + encodeSASL(out) + `</challenge>`)); err != nil {
			return false, err
		}
		st, err := c.next()
		if err != nil {
			return false, err
		}
		if string(st.NS) != nsSASL {
			return false, newStreamError("not-authorized", "SASL exchange in progress")
		}
		switch string(st.Name) {
		case "abort":
			// RFC 6120 §6.4.4: the exchange ends with <aborted/>.
			c.srv.metrics.auth.WithLabelValues(mechanism, "failure").Inc()
			return false, c.saslFailure(conditionOf(srv.Abort()))
		case "response":
		default:
			return false, newStreamError("not-authorized", "SASL exchange in progress")
		}
		var resp struct {
			Data string `xml:",chardata"`
		}
		if err := xmlUnmarshal(st.Raw, &resp); err != nil {
			return false, newStreamError("bad-format", "unreadable response")
		}
		if in, ok = decodeSASL(resp.Data); !ok {
			c.srv.metrics.auth.WithLabelValues(mechanism, "failure").Inc()
			return false, c.saslFailure("incorrect-encoding")
		}
	}
}

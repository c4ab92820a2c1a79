package turn

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// DefaultTTL is the default lifetime of issued credentials.
const DefaultTTL = 24 * time.Hour

// ErrBadUsername reports a username that is not of the TURN REST form
// "expiry-unix-seconds:user".
var ErrBadUsername = errors.New("turn: not a TURN REST username")

// Credentials are TURN REST API credentials (draft-uberti-behave-turn-rest,
// coturn's use-auth-secret): Username is "expiry-unix-seconds:user" and
// Password is base64(HMAC-SHA1(secret, Username)). Any server that knows the
// secret checks them without state. They print without the password.
type Credentials struct {
	Username string
	Password string
	Expires  time.Time // UTC, whole seconds
}

// NewCredentials returns credentials for user (ringd uses the bare JID)
// that expire at expires, truncated to the second. It matches pion's
// GenerateLongTermTURNRESTCredentials, which takes a duration from now.
func NewCredentials(secret Secret, user string, expires time.Time) Credentials {
	exp := expires.Unix()
	username := strconv.FormatInt(exp, 10) + ":" + user
	return Credentials{Username: username, Password: password(secret, username), Expires: time.Unix(exp, 0).UTC()}
}

// String shows the expiry only.
func (c Credentials) String() string {
	return fmt.Sprintf("turn.Credentials{Expires: %s, %s}", c.Expires.Format(time.RFC3339), redacted)
}

// GoString is String, for %#v.
func (c Credentials) GoString() string { return c.String() }

// ParseUsername splits a TURN REST username into its expiry and user.
func ParseUsername(username string) (expires time.Time, user string, err error) {
	ts, user, ok := strings.Cut(username, ":")
	if !ok || ts == "" || user == "" || ts[0] == '+' || ts[0] == '-' {
		return time.Time{}, "", ErrBadUsername
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return time.Time{}, "", ErrBadUsername
	}
	return time.Unix(sec, 0).UTC(), user, nil
}

// password is base64(HMAC-SHA1(secret, username)).
func password(secret Secret, username string) string {
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(username))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// longTermKey is the RFC 8489 §9.2.2 long-term credential key,
// MD5(username ":" realm ":" password), which MESSAGE-INTEGRITY is keyed
// with.
func longTermKey(username, realm, password string) []byte {
	h := md5.New()
	h.Write([]byte(username + ":" + realm + ":" + password))
	return h.Sum(nil)
}

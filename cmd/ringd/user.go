package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"slices"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/ringd/ringd/storage"
	"github.com/ringd/ringd/xmpp/scram"
	"github.com/ringd/ringd/xmpp/server"
)

// storeTimeout bounds the storage work of one user command, so that a
// locked or unreachable database ends in an error, not a hang.
const storeTimeout = time.Minute

func runUserAdd(ctx context.Context, e env, cmd *command, args []string) error {
	fs := cmd.newFlagSet()
	configPath := configFlag(fs)
	password := passwordFlag(fs)
	s, user, err := cmd.userArgs(e, fs, args, configPath)
	if err != nil {
		return err
	}
	cred, err := credentials(ctx, e, password, user)
	if err != nil {
		return err
	}
	return withStore(ctx, s, func(ctx context.Context, st storage.Store) error {
		err := st.CreateUser(ctx, user.Localpart(), cred)
		if errors.Is(err, storage.ErrConflict) {
			return fmt.Errorf("%s already exists", user)
		}
		return err
	})
}

func runUserDel(ctx context.Context, e env, cmd *command, args []string) error {
	fs := cmd.newFlagSet()
	configPath := configFlag(fs)
	s, user, err := cmd.userArgs(e, fs, args, configPath)
	if err != nil {
		return err
	}
	return withStore(ctx, s, func(ctx context.Context, st storage.Store) error {
		err := st.DeleteUser(ctx, user.Localpart())
		if errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("%s does not exist", user)
		}
		return err
	})
}

func runUserPasswd(ctx context.Context, e env, cmd *command, args []string) error {
	fs := cmd.newFlagSet()
	configPath := configFlag(fs)
	password := passwordFlag(fs)
	s, user, err := cmd.userArgs(e, fs, args, configPath)
	if err != nil {
		return err
	}
	cred, err := credentials(ctx, e, password, user)
	if err != nil {
		return err
	}
	return withStore(ctx, s, func(ctx context.Context, st storage.Store) error {
		err := st.SetCredentials(ctx, user.Localpart(), cred)
		if errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("%s does not exist", user)
		}
		return err
	})
}

func runUserList(ctx context.Context, e env, cmd *command, args []string) error {
	fs := cmd.newFlagSet()
	configPath := configFlag(fs)
	pos, err := cmd.parseArgs(e, fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	s, err := loadConfig(*configPath)
	if err != nil {
		return err
	}
	domain := s.domain()
	var users []string
	err = withStore(ctx, s, func(ctx context.Context, st storage.Store) error {
		names, err := st.ListUsers(ctx)
		if err != nil {
			return err
		}
		for _, name := range names {
			users = append(users, name+"@"+domain)
		}
		return nil
	})
	if err != nil {
		return err
	}
	slices.Sort(users)
	for _, u := range users {
		if _, err := fmt.Fprintln(e.stdout, u); err != nil {
			return err
		}
	}
	return nil
}

// configFlag defines the -config flag every command has.
func configFlag(fs *flag.FlagSet) *string {
	return fs.String("config", "", "read the configuration from the TOML `FILE` (default: none, every setting at its default)")
}

// passwordFlag defines -password.
func passwordFlag(fs *flag.FlagSet) *optString {
	p := new(optString)
	fs.Var(p, "password", "the new `PASSWORD` (default: the first line of standard input, which is safer: other local users can see command lines)")
	return p
}

// optString is a string flag that knows whether it was given, so that an
// explicit empty password is an error rather than a cue to read stdin. Its
// String method never reveals the value.
type optString struct {
	value string
	set   bool
}

func (o *optString) String() string { return "" }

func (o *optString) Set(s string) error {
	o.value, o.set = s, true
	return nil
}

// userArgs parses the flags and the one JID argument of a user command,
// loads the configuration and checks the JID against it.
func (c *command) userArgs(e env, fs *flag.FlagSet, args []string, configPath *string) (settings, jid.JID, error) {
	pos, err := c.parseArgs(e, fs, args)
	if err != nil {
		return settings{}, jid.JID{}, err
	}
	switch len(pos) {
	case 0:
		return settings{}, jid.JID{}, usagef("missing JID")
	case 1:
	default:
		return settings{}, jid.JID{}, usagef("unexpected argument %q after the JID", pos[1])
	}
	s, err := loadConfig(*configPath)
	if err != nil {
		return settings{}, jid.JID{}, err
	}
	user, err := userJID(pos[0], s.domain())
	if err != nil {
		return settings{}, jid.JID{}, err
	}
	return s, user, nil
}

// userJID parses s as the bare JID of an account of domain (already
// normalised). The result is PRECIS-normalised, so its Localpart is the
// username the store keys accounts by.
func userJID(s, domain string) (jid.JID, error) {
	j, err := jid.Parse(s)
	switch {
	case err != nil:
		return jid.JID{}, fmt.Errorf("%q is not a valid JID: %v", s, err)
	case j.Resourcepart() != "":
		return jid.JID{}, fmt.Errorf("%q has a resource; want a bare JID such as %s", s, j.Bare())
	case j.Localpart() == "":
		return jid.JID{}, fmt.Errorf("%q has no user part; want user@%s", s, domain)
	case j.Domainpart() != domain:
		return jid.JID{}, fmt.Errorf("%s is not in the served domain %s", j, domain)
	}
	return j, nil
}

// credentials turns the password from -password, or else from standard
// input, into SCRAM credentials.
func credentials(ctx context.Context, e env, password *optString, user jid.JID) (storage.Credentials, error) {
	pw := password.value
	if !password.set {
		var err error
		pw, err = readPassword(ctx, e, user)
		if err != nil {
			return storage.Credentials{}, err
		}
	}
	if pw == "" {
		return storage.Credentials{}, errors.New("empty password")
	}
	// The error names no part of the password.
	return scram.NewCredentials(pw, scram.DefaultIterations)
}

// withStore opens the store the configuration selects (the running
// server's store, shared safely between processes), runs f on it and
// closes it.
func withStore(ctx context.Context, s settings, f func(context.Context, storage.Store) error) (err error) {
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	st, err := server.OpenStore(ctx, s.server)
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer func() {
		if cerr := st.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close store: %w", cerr)
		}
	}()
	return f(ctx, st)
}

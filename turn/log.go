package turn

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"

	"github.com/pion/logging"
)

// pionLoggers adapts slog to pion's logging.LoggerFactory. Pion's Trace
// and Debug lines (per packet) are dropped; its Info, Warn and Error lines
// go to Debug: nearly all are caused by clients, and some repeat per
// packet (an allocation whose client is gone logs an error for every
// datagram a peer still sends), which must not flood the log at the
// default level. Every line passes redact first.
type pionLoggers struct{ log *slog.Logger }

func (f pionLoggers) NewLogger(scope string) logging.LeveledLogger {
	return pionLogger{f.log.With("pion", scope)}
}

type pionLogger struct{ log *slog.Logger }

var _ logging.LeveledLogger = pionLogger{}

func (pionLogger) Trace(string)          {}
func (pionLogger) Tracef(string, ...any) {}
func (pionLogger) Debug(string)          {}
func (pionLogger) Debugf(string, ...any) {}
func (l pionLogger) Info(msg string)     { l.out(slog.LevelDebug, "%s", msg) }
func (l pionLogger) Infof(f string, a ...any) {
	l.out(slog.LevelDebug, f, a...)
}
func (l pionLogger) Warn(msg string) { l.out(slog.LevelDebug, "%s", msg) }
func (l pionLogger) Warnf(f string, a ...any) {
	l.out(slog.LevelDebug, f, a...)
}
func (l pionLogger) Error(msg string) { l.out(slog.LevelDebug, "%s", msg) }
func (l pionLogger) Errorf(f string, a ...any) {
	l.out(slog.LevelDebug, f, a...)
}

func (l pionLogger) out(level slog.Level, format string, args ...any) {
	if !l.log.Enabled(context.Background(), level) {
		return
	}
	l.log.Log(context.Background(), level, redact(fmt.Sprintf(format, args...)))
}

// turnRESTUsername matches what looks like a TURN REST username: a unix
// time of nine digits or more, a colon, and the user.
var turnRESTUsername = regexp.MustCompile(`\b[0-9]{9,}:[^\s"'` + "`" + `,;()\[\]]+`)

// redact hides TURN REST usernames in pion's log lines (pion puts the
// username into some of its errors).
func redact(s string) string { return turnRESTUsername.ReplaceAllString(s, redacted) }

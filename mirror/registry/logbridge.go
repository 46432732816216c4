package registry

import (
	"context"
	"log/slog"
	"sort"
	"strings"
	"sync"

	"github.com/sirupsen/logrus"
)

// Why this file bends the no-global-state rule (house style rule 10):
//
// Distribution v3 logs through logrus. Its logger comes from an internal
// context key that code outside the distribution module cannot set, and
// falls back to logrus.StandardLogger(), a process-global. So the only way
// to keep its lines off stderr and to hand them to our *slog.Logger is to
// configure that global logger, once, here. Everything else in meshpack is
// barred from logrus by depguard; this is its one home.
//
// Several servers may run in one process (tests start a source and a target
// registry). Each server puts a unique "instance.id" value on its app and
// request contexts; Distribution copies that value into every log entry's
// fields, and the hook below routes the entry to that server's logger.
// Entries without a known instance (other logrus users, stray goroutines
// after Close) are dropped.

// instanceKey is the context key Distribution reads ("instance.id"). It must
// be this untyped string: the lookup is ctx.Value("instance.id").
const instanceKey = "instance.id"

// bridge is the process-wide logrus → slog router.
type bridge struct {
	once   sync.Once
	mu     sync.RWMutex
	routes map[string]*slog.Logger
}

// logBridge is the single bridge; see the comment at the top of the file.
var logBridge = &bridge{routes: map[string]*slog.Logger{}}

// register routes entries tagged with id to logger until the returned
// function is called.
func (b *bridge) register(id string, logger *slog.Logger) (unregister func()) {
	b.once.Do(func() {
		std := logrus.StandardLogger()
		std.SetOutput(nopWriter{})
		std.SetFormatter(nopFormatter{})
		std.AddHook(b)
	})
	b.mu.Lock()
	b.routes[id] = logger
	b.mu.Unlock()
	b.adjustLevel()
	return func() {
		b.mu.Lock()
		delete(b.routes, id)
		b.mu.Unlock()
		b.adjustLevel()
	}
}

// adjustLevel lets logrus build debug entries only while some registered
// logger wants them; Distribution is chatty at debug level.
func (b *bridge) adjustLevel() {
	level := logrus.InfoLevel
	b.mu.RLock()
	for _, l := range b.routes {
		if l.Enabled(context.Background(), slog.LevelDebug) {
			level = logrus.DebugLevel
			break
		}
	}
	b.mu.RUnlock()
	logrus.SetLevel(level)
}

// Levels implements logrus.Hook.
func (b *bridge) Levels() []logrus.Level { return logrus.AllLevels }

// Fire implements logrus.Hook: it forwards e to the logger of its server.
func (b *bridge) Fire(e *logrus.Entry) error {
	id, _ := e.Data[instanceKey].(string)
	b.mu.RLock()
	logger := b.routes[id]
	b.mu.RUnlock()
	if logger == nil {
		return nil
	}
	ctx := e.Context
	if ctx == nil {
		ctx = context.Background()
	}
	level := slogLevel(e)
	if !logger.Enabled(ctx, level) {
		return nil
	}
	logger.LogAttrs(ctx, level, e.Message, attrs(e.Data)...)
	return nil
}

// slogLevel maps a logrus entry to a slog level. Distribution's info lines
// (start-up chatter such as "redis not configured", and "response
// completed" for every request) become debug; so do "response completed
// with error" lines for 4xx answers, such as the BLOB_UNKNOWN of every
// HEAD-before-push, and the notice that index completeness validation is
// off, which we chose. Warnings and errors keep their level.
func slogLevel(e *logrus.Entry) slog.Level {
	switch e.Level {
	case logrus.PanicLevel, logrus.FatalLevel, logrus.ErrorLevel:
		if status, ok := e.Data["http.response.status"].(int); ok && status < 500 {
			return slog.LevelDebug
		}
		return slog.LevelError
	case logrus.WarnLevel:
		if strings.HasPrefix(e.Message, "Image index completeness validation has been disabled") {
			return slog.LevelDebug
		}
		return slog.LevelWarn
	default:
		return slog.LevelDebug
	}
}

// attrs turns logrus fields into sorted slog attributes, dropping the ones
// that only identify the process.
func attrs(data logrus.Fields) []slog.Attr {
	keys := make([]string, 0, len(data))
	for k := range data {
		if k == instanceKey || k == "go.version" {
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]slog.Attr, 0, len(keys))
	for _, k := range keys {
		out = append(out, slog.Any(k, data[k]))
	}
	return out
}

// nopFormatter skips formatting: the hook already forwarded the entry.
type nopFormatter struct{}

// Format implements logrus.Formatter.
func (nopFormatter) Format(*logrus.Entry) ([]byte, error) { return nil, nil }

// nopWriter discards logrus output.
type nopWriter struct{}

// Write implements io.Writer.
func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }

package engine

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// llama.cpp's log goes to a slog.Logger. The C callback is created once per
// process (purego callbacks are never freed). llama.cpp sends lines in
// pieces (level CONT continues the previous one), so pieces are joined until
// a newline.

var (
	logMu     sync.Mutex
	logger    = slog.Default()
	logBuf    strings.Builder
	logLevel  int32
	logRecent []string // last error/warning lines, for error messages
	logCB     uintptr
)

// harmless lists warnings of the pinned build that say nothing wrong about
// the model; they are logged at debug level.
var harmless = []string{
	// the file-type guess of llama_model_loader does not know MXFP4 dense
	// weights; the declared general.file_type is used and the model runs.
	"unknown type mxfp4",
}

// SetLogger routes llama.cpp's log to lg (nil: slog.Default()). Its lines
// carry the attribute src=llama.cpp; llama.cpp's INFO lines are logged at
// slog.LevelDebug, since a model load prints dozens of them.
func SetLogger(lg *slog.Logger) {
	logMu.Lock()
	defer logMu.Unlock()
	if lg == nil {
		lg = slog.Default()
	}
	logger = lg
}

// ggml_log_level
const (
	ggmlLogNone = iota
	ggmlLogDebug
	ggmlLogInfo
	ggmlLogWarn
	ggmlLogError
	ggmlLogCont
)

func installLogger(l *Lib) {
	if logCB == 0 {
		logCB = purego.NewCallback(func(level int32, text *byte, _ uintptr) {
			onLog(level, cString(text))
		})
	}
	l.c.llamaLogSet(logCB, 0)
}

func onLog(level int32, text string) {
	logMu.Lock()
	defer logMu.Unlock()
	if level != ggmlLogCont {
		logLevel = level
	}
	logBuf.WriteString(text)
	if !strings.HasSuffix(text, "\n") {
		return
	}
	line := strings.TrimRight(logBuf.String(), "\n")
	logBuf.Reset()
	if line == "" {
		return
	}
	lv := slog.LevelDebug
	switch logLevel {
	case ggmlLogWarn:
		lv = slog.LevelWarn
	case ggmlLogError:
		lv = slog.LevelError
	}
	for _, h := range harmless {
		if strings.Contains(line, h) {
			lv = slog.LevelDebug
		}
	}
	if lv >= slog.LevelWarn {
		logRecent = append(logRecent, line)
		if len(logRecent) > 8 {
			logRecent = logRecent[len(logRecent)-8:]
		}
	}
	logger.Log(context.Background(), lv, line, "src", "llama.cpp")
}

// takeRecentLog returns and forgets the last warning and error lines of
// llama.cpp, to explain a failure that the C API reports only as NULL.
func takeRecentLog() string {
	logMu.Lock()
	defer logMu.Unlock()
	s := strings.Join(logRecent, "; ")
	logRecent = nil
	return s
}

// cString copies a NUL-terminated C string.
func cString(p *byte) string {
	if p == nil {
		return ""
	}
	n := 0
	for *(*byte)(unsafe.Add(unsafe.Pointer(p), n)) != 0 {
		n++
	}
	return string(unsafe.Slice(p, n))
}

// logDebug logs a line of speclab's own about the library at debug level.
func (l *Lib) logDebug(msg string) {
	logMu.Lock()
	lg := logger
	logMu.Unlock()
	lg.Debug(msg, "lib", l.Location.Lib)
}

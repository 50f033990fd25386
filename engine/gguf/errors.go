package gguf

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error from Read and Open about the content of a file
// wraps exactly one of them, so that a caller can tell with errors.Is what
// kind of problem the file has.
var (
	// ErrNotGGUF: the file does not start with the GGUF magic.
	ErrNotGGUF = errors.New("not a GGUF file")
	// ErrVersion: the GGUF version is not 2 or 3.
	ErrVersion = errors.New("unsupported GGUF version")
	// ErrTruncated: the file ends before the data its header promises.
	ErrTruncated = errors.New("truncated GGUF file")
	// ErrCorrupt: the header holds impossible or inconsistent values.
	ErrCorrupt = errors.New("corrupt GGUF file")
	// ErrInvalid: Write or Encode was given something it cannot represent.
	ErrInvalid = errors.New("invalid GGUF content")
)

// FormatError describes a problem in the content of a GGUF file.
type FormatError struct {
	Kind   error  // ErrNotGGUF, ErrVersion, ErrTruncated or ErrCorrupt
	Msg    string // what is wrong, starting with the kind ("truncated: ...")
	Where  string // the header item being read, if known ("key-value pair 3 \"general.name\"")
	Offset int64  // file offset of the problem, or -1
}

func (e *FormatError) Error() string {
	s := e.Msg
	if e.Where != "" {
		s += " in " + e.Where
	}
	if e.Offset >= 0 {
		s += fmt.Sprintf(" (at offset %d)", e.Offset)
	}
	return s
}

// Unwrap returns the sentinel error of the problem's kind.
func (e *FormatError) Unwrap() error { return e.Kind }

func formatErr(kind error, off int64, format string, args ...any) *FormatError {
	return &FormatError{Kind: kind, Msg: fmt.Sprintf(format, args...), Offset: off}
}

// within adds the header item being read to a FormatError that does not yet
// name one; other errors pass through.
func within(err error, format string, args ...any) error {
	var fe *FormatError
	if errors.As(err, &fe) && fe.Where == "" {
		fe.Where = fmt.Sprintf(format, args...)
	}
	return err
}

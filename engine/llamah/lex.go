package llamah

import (
	"fmt"
	"strings"
)

// tokKind classifies a token.
type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tNumber
	tString // "..." or '...'
	tPunct
)

type token struct {
	kind tokKind
	text string
	line int
}

func (t token) String() string {
	if t.kind == tEOF {
		return "end of file"
	}
	return fmt.Sprintf("%q", t.text)
}

// lex splits src into tokens. Comments are dropped. Preprocessor lines are
// dropped too, except that each `#define NAME VALUE` is handed to define.
func lex(name string, src string, define func(name, value string, line int)) ([]token, error) {
	var toks []token
	line := 1
	i := 0
	atLineStart := true
	for i < len(src) {
		c := src[i]
		switch {
		case c == '\n':
			line++
			i++
			atLineStart = true
			continue
		case c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
			i++
			continue
		case c == '/' && i+1 < len(src) && src[i+1] == '/':
			for i < len(src) && src[i] != '\n' {
				i++
			}
			continue
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				return nil, &Error{File: name, Line: line, Msg: "unterminated comment"}
			}
			line += strings.Count(src[i:i+2+end], "\n")
			i += end + 4
			continue
		case c == '#' && atLineStart:
			// A preprocessor line, with its backslash continuations.
			start, startLine := i, line
			for i < len(src) && src[i] != '\n' {
				if src[i] == '\\' && i+1 < len(src) && src[i+1] == '\n' {
					line++
					i += 2
					continue
				}
				i++
			}
			directive(src[start+1:i], startLine, define)
			continue
		}
		atLineStart = false
		switch {
		case isIdentStart(c):
			j := i + 1
			for j < len(src) && isIdentChar(src[j]) {
				j++
			}
			toks = append(toks, token{tIdent, src[i:j], line})
			i = j
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(src) && src[i+1] >= '0' && src[i+1] <= '9':
			j := i + 1
			for j < len(src) && (isIdentChar(src[j]) || src[j] == '.' ||
				(src[j] == '+' || src[j] == '-') && (src[j-1] == 'e' || src[j-1] == 'E') && !strings.HasPrefix(src[i:], "0x")) {
				j++
			}
			toks = append(toks, token{tNumber, src[i:j], line})
			i = j
		case c == '"' || c == '\'':
			j := i + 1
			for j < len(src) && src[j] != c {
				if src[j] == '\\' {
					j++
				}
				if j < len(src) && src[j] == '\n' {
					return nil, &Error{File: name, Line: line, Msg: "newline in string literal"}
				}
				j++
			}
			if j >= len(src) {
				return nil, &Error{File: name, Line: line, Msg: "unterminated string literal"}
			}
			toks = append(toks, token{tString, src[i : j+1], line})
			i = j + 1
		default:
			// The multi-character operators that llama.h uses.
			if op := multiOp(src[i:]); op != "" {
				toks = append(toks, token{tPunct, op, line})
				i += len(op)
				continue
			}
			if !strings.ContainsRune("{}()[];,*=:-+~|&^<>!?/%.", rune(c)) {
				return nil, &Error{File: name, Line: line, Msg: fmt.Sprintf("unexpected character %q", c)}
			}
			toks = append(toks, token{tPunct, string(c), line})
			i++
		}
	}
	toks = append(toks, token{kind: tEOF, line: line})
	return toks, nil
}

// directive reads one preprocessor line (without its '#').
func directive(text string, line int, define func(name, value string, line int)) {
	text = strings.ReplaceAll(text, "\\\n", " ")
	if k := strings.Index(text, "//"); k >= 0 {
		text = text[:k]
	}
	if k := strings.Index(text, "/*"); k >= 0 {
		text = text[:k]
	}
	f := strings.Fields(text)
	if len(f) >= 2 && f[0] == "define" && !strings.Contains(f[1], "(") {
		define(f[1], strings.Join(f[2:], " "), line)
	}
}

func multiOp(s string) string {
	for _, op := range []string{"...", "<<", ">>"} {
		if strings.HasPrefix(s, op) {
			return op
		}
	}
	return ""
}

func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isIdentChar(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }

// Error is a header that does not parse, or a declaration whose layout
// cannot be computed.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

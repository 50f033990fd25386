package bpe

import (
	"unicode"
	"unicode/utf8"
)

// replacement is what libllama substitutes for a byte it cannot decode.
const replacement = 0xFFFD

// codepoints decodes s the way llama.cpp's unicode_cpts_from_utf8 does,
// which is laxer than Go: it accepts overlong forms, surrogates and values
// up to 0x1FFFFF, and turns each byte that starts no well-formed sequence
// into U+FFFD on its own.
func codepoints(s string) []rune {
	cpts := make([]rune, 0, len(s))
	cont := func(i int) bool { return i < len(s) && s[i]&0xC0 == 0x80 }
	for i := 0; i < len(s); {
		b := s[i]
		switch {
		case b&0x80 == 0:
			cpts = append(cpts, rune(b))
			i++
		case b&0x40 == 0:
			cpts = append(cpts, replacement)
			i++
		case b&0x20 == 0:
			if !cont(i + 1) {
				cpts = append(cpts, replacement)
				i++
				continue
			}
			cpts = append(cpts, rune(b&0x1F)<<6|rune(s[i+1]&0x3F))
			i += 2
		case b&0x10 == 0:
			if !cont(i+1) || !cont(i+2) {
				cpts = append(cpts, replacement)
				i++
				continue
			}
			cpts = append(cpts, rune(b&0x0F)<<12|rune(s[i+1]&0x3F)<<6|rune(s[i+2]&0x3F))
			i += 3
		case b&0x08 == 0:
			if !cont(i+1) || !cont(i+2) || !cont(i+3) {
				cpts = append(cpts, replacement)
				i++
				continue
			}
			cpts = append(cpts, rune(b&0x07)<<18|rune(s[i+1]&0x3F)<<12|rune(s[i+2]&0x3F)<<6|rune(s[i+3]&0x3F))
			i += 4
		default:
			cpts = append(cpts, replacement)
			i++
		}
	}
	return cpts
}

// appendCodepoint appends c in UTF-8 as llama.cpp's unicode_cpt_to_utf8
// does: surrogates are encoded like any other value. Values above U+10FFFF
// make libllama throw; they become U+FFFD here.
func appendCodepoint(dst []byte, c rune) []byte {
	switch {
	case c < 0x80:
		return append(dst, byte(c))
	case c < 0x800:
		return append(dst, 0xC0|byte(c>>6), 0x80|byte(c&0x3F))
	case c < 0x10000:
		return append(dst, 0xE0|byte(c>>12), 0x80|byte(c>>6&0x3F), 0x80|byte(c&0x3F))
	case c <= unicode.MaxRune:
		return append(dst, 0xF0|byte(c>>18), 0x80|byte(c>>12&0x3F), 0x80|byte(c>>6&0x3F), 0x80|byte(c&0x3F))
	default:
		return utf8.AppendRune(dst, replacement)
	}
}

// class is the part of a code point's Unicode properties that the GPT-2
// pre-tokenizer looks at.
type class uint8

const (
	classNone   class = iota // past the end of the text
	classLetter              // \p{L}
	classNumber              // \p{N}
	classSpace               // \s
	classOther               // anything else
)

// classify returns c's class by llama.cpp's tables (src/unicode-data.cpp).
// Go's tables (Unicode 15.0) agree with them on every code point except the
// CJK Unified Ideographs Extension I block, new in Unicode 15.1, which
// llama.cpp counts as letters.
func classify(c rune) class {
	switch {
	case c < 0x80:
		switch {
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
			return classLetter
		case '0' <= c && c <= '9':
			return classNumber
		case c == ' ' || '\t' <= c && c <= '\r':
			return classSpace
		}
		return classOther
	case unicode.Is(unicode.White_Space, c):
		return classSpace
	case unicode.IsLetter(c) || 0x2EBF0 <= c && c <= 0x2EE5D:
		return classLetter
	case unicode.IsNumber(c):
		return classNumber
	}
	return classOther
}

// splitGPT2 splits text into the words of the GPT-2 pre-tokenizer regex
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// following llama.cpp's hand-written matcher (unicode_regex_split_custom_gpt2)
// step by step. Each word is returned as UTF-8, re-encoded from the decoded
// code points as libllama does, so invalid input bytes come back as U+FFFD.
func splitGPT2(text string) [][]byte {
	// For valid UTF-8 (the usual case) words are slices of text; otherwise
	// they are re-encoded from the code points as libllama does.
	var cpts []rune
	var offs []int // byte offset of each code point, valid UTF-8 only
	valid := utf8.ValidString(text)
	if valid {
		cpts = make([]rune, 0, len(text))
		offs = make([]int, 0, len(text)+1)
		for i, c := range text {
			cpts = append(cpts, c)
			offs = append(offs, i)
		}
		offs = append(offs, len(text))
	} else {
		cpts = codepoints(text)
	}
	n := len(cpts)
	classes := make([]class, n)
	for i, c := range cpts {
		classes[i] = classify(c)
	}
	at := func(i int) class {
		if i < n {
			return classes[i]
		}
		return classNone
	}

	var words [][]byte
	start := 0
	emit := func(end int) {
		if end > start {
			if valid {
				words = append(words, []byte(text[offs[start]:offs[end]]))
			} else {
				var w []byte
				for _, c := range cpts[start:end] {
					w = appendCodepoint(w, c)
				}
				words = append(words, w)
			}
		}
		start = end
	}

	for pos := 0; pos < n; {
		c := cpts[pos]

		// 's|'t|'re|'ve|'m|'ll|'d
		if c == '\'' && pos+1 < n {
			next := cpts[pos+1]
			if next == 's' || next == 't' || next == 'm' || next == 'd' {
				pos += 2
				emit(pos)
				continue
			}
			if pos+2 < n {
				nn := cpts[pos+2]
				if next == 'r' && nn == 'e' || next == 'v' && nn == 'e' || next == 'l' && nn == 'l' {
					pos += 3
					emit(pos)
					continue
				}
			}
		}

		// ' ?\p{L}+', ' ?\p{N}+' and ' ?[^\s\p{L}\p{N}]+'
		cl := at(pos)
		if c == ' ' {
			cl = at(pos + 1)
		}
		if cl == classLetter || cl == classNumber || cl == classOther {
			if c == ' ' {
				pos++
			}
			for at(pos) == cl {
				pos++
			}
			emit(pos)
			continue
		}

		// '\s+(?!\S)' and '\s+'
		ws := 0
		for at(pos+ws) == classSpace {
			ws++
		}
		if ws > 1 && pos+ws < n {
			pos += ws - 1
			emit(pos)
			continue
		}
		if ws > 0 {
			pos += ws
			emit(pos)
			continue
		}
		pos++
		emit(pos)
	}
	return words
}

// Sanitize returns text with every four-byte sequence that libllama's UTF-8
// decoder reads as a value above U+10FFFF (lead byte 0xF4 with a second
// byte of 0x90 or more, or a lead byte 0xF5–0xF7, each followed by three
// continuation bytes) replaced by U+FFFD. libllama's BPE tokenizers throw
// an uncaught C++ exception on such input, which aborts the process; after
// Sanitize they tokenize it as Encode does. Valid UTF-8 is returned
// unchanged.
func Sanitize(text string) string {
	var buf []byte
	last := 0
	cont := func(i int) bool { return i < len(text) && text[i]&0xC0 == 0x80 }
	for i := 0; i < len(text); i++ {
		b := text[i]
		if b < 0xF4 || b > 0xF7 || !cont(i+1) || !cont(i+2) || !cont(i+3) {
			continue
		}
		if b == 0xF4 && text[i+1] < 0x90 {
			continue // U+100000..U+10FFFF: valid
		}
		buf = append(buf, text[last:i]...)
		buf = utf8.AppendRune(buf, replacement)
		i += 3
		last = i + 1
	}
	if buf == nil {
		return text
	}
	return string(append(buf, text[last:]...))
}

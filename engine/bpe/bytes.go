package bpe

import "unicode/utf8"

// byteRune maps each byte to the rune that stands for it in token text, as
// GPT-2's bytes_to_unicode does: printable Latin-1 bytes stand for
// themselves, the others for U+0100 upwards in byte order.
var byteRune [256]rune

// runeByte is the inverse of byteRune.
var runeByte map[rune]byte

// byteOrder lists the 256 bytes in the order of GPT-2's vocabulary: the
// printable bytes first, then the remapped ones.
var byteOrder [256]byte

func init() {
	runeByte = make(map[rune]byte, 256)
	n := 0
	printable := func(b int) bool {
		return '!' <= b && b <= '~' || 0xA1 <= b && b <= 0xAC || 0xAE <= b && b <= 0xFF
	}
	i := 0
	for b := 0; b < 256; b++ {
		if printable(b) {
			byteRune[b] = rune(b)
			byteOrder[i] = byte(b)
			i++
		}
	}
	for b := 0; b < 256; b++ {
		if !printable(b) {
			byteRune[b] = rune(256 + n)
			n++
			byteOrder[i] = byte(b)
			i++
		}
	}
	for b, r := range byteRune {
		runeByte[r] = byte(b)
	}
}

// encodeBytes returns the token-text form of raw bytes.
func encodeBytes(raw []byte) string {
	buf := make([]byte, 0, 2*len(raw))
	for _, b := range raw {
		buf = utf8.AppendRune(buf, byteRune[b])
	}
	return string(buf)
}

// appendDecoded appends the raw bytes that token text stands for. A rune
// outside the byte alphabet (only possible in a vocabulary not made by this
// package) is copied as UTF-8, as libllama does modulo its error marker.
func appendDecoded(dst []byte, text string) []byte {
	for _, r := range text {
		if b, ok := runeByte[r]; ok {
			dst = append(dst, b)
		} else {
			dst = utf8.AppendRune(dst, r)
		}
	}
	return dst
}

// ByteToUnicode is the token text of the single byte b in a GPT-2 style
// (byte-level BPE) vocabulary: the string libllama looks up when a text
// needs that byte.
func ByteToUnicode(b byte) string { return string(byteRune[b]) }

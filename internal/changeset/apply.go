package changeset

import (
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// UTF16Len returns the length of s in UTF-16 code units, the unit of every
// CodeMirror position. Each invalid UTF-8 byte counts 1, as the U+FFFD it
// would decode to.
func UTF16Len(s string) int {
	n, _ := measure(s)
	return n
}

// measure returns the UTF-16 length of s and whether s is valid UTF-8, in
// one pass because Apply needs both.
func measure(s string) (n int, valid bool) {
	valid = true
	for i := 0; i < len(s); {
		if s[i] < utf8.RuneSelf {
			n++
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			valid = false
		}
		i += size
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n, valid
}

// NormalizeLineBreaks turns "\r\n" and lone "\r" into "\n", as CodeMirror
// does when it loads a document (it splits on /\r\n?|\n/ and joins with
// "\n"). Run it on any document that did not come from an editor before
// storing it: lengths are counted on the normalised text.
func NormalizeLineBreaks(s string) string {
	if !strings.Contains(s, "\r") {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
}

// Apply returns doc with the changes applied, exactly as CodeMirror's
// changes.apply(Text.of(doc.split("\n"))).toString().
//
// It fails with ErrLengthMismatch when doc's UTF-16 length is not
// LenBefore, ErrInvalidUTF8 when doc is not valid UTF-8, and
// ErrLoneSurrogate when the changes cut a surrogate pair and the result
// would keep one half alone (JavaScript would return that string; a Go
// string cannot hold it).
func (c ChangeSet) Apply(doc string) (string, error) {
	length, valid := measure(doc)
	if !valid {
		return "", fmt.Errorf("changeset: document: %w", ErrInvalidUTF8)
	}
	if want := c.LenBefore(); length != want {
		return "", fmt.Errorf("changeset: document has length %d, changes expect %d: %w", length, want, ErrLengthMismatch)
	}
	size := len(doc)
	for _, t := range c.inserted {
		size += 3 * len(t) // upper bound of UTF-8 bytes per unit
	}
	var out textBuilder
	out.buf.Grow(size)
	cur := docCursor{doc: doc}
	for i := 0; i < len(c.sections); i += 2 {
		n, ins := c.sections[i], c.sections[i+1]
		if ins == kept {
			cur.advance(n, &out)
			continue
		}
		cur.advance(n, nil)
		for _, u := range c.text(i / 2) {
			out.writeUnit(u)
		}
	}
	return out.finish()
}

// textBuilder assembles UTF-8 from pieces that may end or start in the
// middle of a surrogate pair: a high surrogate waits for the next unit,
// which may come from another piece. That pairs exactly the units that are
// adjacent in the JavaScript result, so the result is well formed here iff
// it is well formed there.
type textBuilder struct {
	buf  strings.Builder
	high uint16 // pending high surrogate, or 0
	lone bool   // an unpaired surrogate was seen
}

func (b *textBuilder) writeUnit(u uint16) {
	switch {
	case b.high != 0:
		if isLowSurrogate(u) {
			b.buf.WriteRune(utf16.DecodeRune(rune(b.high), rune(u)))
			b.high = 0
			return
		}
		b.lone = true
		b.high = 0
		b.writeUnit(u)
	case isHighSurrogate(u):
		b.high = u
	case isLowSurrogate(u):
		b.lone = true
	default:
		b.buf.WriteRune(rune(u))
	}
}

// writeString appends s, which starts and ends on whole runes.
func (b *textBuilder) writeString(s string) {
	if s == "" {
		return
	}
	if b.high != 0 {
		b.lone = true // s starts with a whole rune, never a low surrogate
		b.high = 0
	}
	b.buf.WriteString(s)
}

func (b *textBuilder) finish() (string, error) {
	if b.lone || b.high != 0 {
		return "", fmt.Errorf("changeset: result would split a surrogate pair: %w", ErrLoneSurrogate)
	}
	return b.buf.String(), nil
}

// docCursor walks a UTF-8 document by UTF-16 units. Positions may fall
// between the two halves of an astral character; lowNext records that the
// high half has been consumed.
type docCursor struct {
	doc     string
	pos     int // byte offset of the current rune
	lowNext bool
}

// advance moves n units forward, copying them to out unless it is nil.
// Whole runes are copied as bytes; only a split astral rune goes through
// UTF-16.
func (c *docCursor) advance(n int, out *textBuilder) {
	if n == 0 {
		return
	}
	if c.lowNext {
		r, size := utf8.DecodeRuneInString(c.doc[c.pos:])
		if out != nil {
			_, lo := utf16.EncodeRune(r)
			out.writeUnit(uint16(lo))
		}
		c.pos += size
		c.lowNext = false
		n--
	}
	start := c.pos
	var splitHigh uint16
	for n > 0 {
		if c.doc[c.pos] < utf8.RuneSelf {
			c.pos++
			n--
			continue
		}
		r, size := utf8.DecodeRuneInString(c.doc[c.pos:])
		if r < 0x10000 {
			c.pos += size
			n--
		} else if n >= 2 {
			c.pos += size
			n -= 2
		} else {
			hi, _ := utf16.EncodeRune(r)
			splitHigh = uint16(hi)
			c.lowNext = true
			n = 0
		}
	}
	if out != nil {
		out.writeString(c.doc[start:c.pos])
		if splitHigh != 0 {
			out.writeUnit(splitHigh)
		}
	}
}

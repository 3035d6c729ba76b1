package changeset

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// Default limits, used for any Limits field left at zero.
const (
	// DefaultMaxEntries allows one entry per edited range for a
	// multi-cursor edit over tens of thousands of lines.
	DefaultMaxEntries = 1 << 16
	// DefaultMaxInsertUnits allows a paste of about a mebibyte of text.
	DefaultMaxInsertUnits = 1 << 20
)

// Limits bounds what Parse accepts from an untrusted peer. A zero field
// means its default. The byte size of the input itself is the transport's
// business (the websocket read limit): Parse stops as soon as a limit is
// passed, but only after reading that far.
type Limits struct {
	// MaxEntries is the most top-level entries (kept, deleted or replaced
	// ranges) in one change set. Default DefaultMaxEntries.
	MaxEntries int
	// MaxInsertUnits is the most UTF-16 units of inserted text, line breaks
	// between line entries included, summed over the change set. Default
	// DefaultMaxInsertUnits.
	MaxInsertUnits int
}

func (l Limits) maxEntries() int {
	if l.MaxEntries <= 0 {
		return DefaultMaxEntries
	}
	return l.MaxEntries
}

func (l Limits) maxInsertUnits() int {
	if l.MaxInsertUnits <= 0 {
		return DefaultMaxInsertUnits
	}
	return l.MaxInsertUnits
}

// Parse decodes the JSON form of a change set (CodeMirror's
// ChangeSet.toJSON) with the default Limits. See Limits.Parse.
func Parse(data []byte) (ChangeSet, error) {
	return Limits{}.Parse(data)
}

// Parse decodes the JSON form of a change set: an array whose entries are n
// (keep n units), [n] (delete n units) or [n, "line", ...] (replace n units
// with the lines joined by "\n").
//
// It accepts what an editor's ChangeSet.toJSON writes and stores it as
// CodeMirror stores it, so that Map and Compose agree with CodeMirror. It is
// stricter than CodeMirror's fromJSON, refusing what a server must not pass
// on:
//   - numbers are non-negative integers written as plain digits (no "1.0",
//     "1e3" or "-0"), each and their sum at most MaxLength;
//   - line strings are valid UTF-8 without unpaired surrogates or line
//     breaks ("\n", "\r");
//   - the set is canonical: no entry that changes nothing (0, [0], [n,""])
//     and no two kept entries, two deletions or two insertions in a row.
//     fromJSON accepts those, but CodeMirror's own Map throws on some of
//     them, and an editor that received one could break.
//
// Errors wrap ErrMalformed, ErrTooLarge, ErrLoneSurrogate or ErrInvalidUTF8
// and say which entry and byte offset is at fault.
func (l Limits) Parse(data []byte) (ChangeSet, error) {
	p := parser{data: data, maxEntries: l.maxEntries(), insertBudget: l.maxInsertUnits()}
	c, err := p.changeSet()
	if err != nil {
		return ChangeSet{}, fmt.Errorf("changeset: %w", err)
	}
	return c, nil
}

// UnmarshalJSON implements json.Unmarshaler with Parse and the default
// Limits, so a ChangeSet can sit in a message struct.
func (c *ChangeSet) UnmarshalJSON(data []byte) error {
	parsed, err := Parse(data)
	if err != nil {
		return err
	}
	*c = parsed
	return nil
}

// MarshalJSON implements json.Marshaler. The output is byte for byte what
// JSON.stringify(changes.toJSON()) gives in JavaScript for the same set,
// including the escaping of strings.
func (c ChangeSet) MarshalJSON() ([]byte, error) {
	buf := make([]byte, 0, 16+len(c.sections)*4)
	buf = append(buf, '[')
	for i := 0; i < len(c.sections); i += 2 {
		if i > 0 {
			buf = append(buf, ',')
		}
		n, ins := c.sections[i], c.sections[i+1]
		switch {
		case ins == kept:
			buf = strconv.AppendInt(buf, int64(n), 10)
		case ins == 0:
			buf = append(buf, '[')
			buf = strconv.AppendInt(buf, int64(n), 10)
			buf = append(buf, ']')
		default:
			buf = append(buf, '[')
			buf = strconv.AppendInt(buf, int64(n), 10)
			// CodeMirror writes the inserted Text's lines; ours is the
			// same text joined by '\n', so splitting on it restores them.
			text := c.text(i / 2)
			start := 0
			for j := 0; j <= len(text); j++ {
				if j == len(text) || text[j] == '\n' {
					buf = append(buf, ',')
					buf = appendJSString(buf, text[start:j])
					start = j + 1
				}
			}
			buf = append(buf, ']')
		}
	}
	return append(buf, ']'), nil
}

// appendJSString writes units as a JSON string exactly as JSON.stringify
// does: short escapes for " \ \b \f \n \r \t, \u00xx for other control
// characters, \udxxx (lowercase) for unpaired surrogates, everything else
// literally.
func appendJSString(buf []byte, units []uint16) []byte {
	const hex = "0123456789abcdef"
	buf = append(buf, '"')
	for i := 0; i < len(units); i++ {
		u := units[i]
		switch {
		case u == '"' || u == '\\':
			buf = append(buf, '\\', byte(u))
		case u == '\b':
			buf = append(buf, '\\', 'b')
		case u == '\f':
			buf = append(buf, '\\', 'f')
		case u == '\n':
			buf = append(buf, '\\', 'n')
		case u == '\r':
			buf = append(buf, '\\', 'r')
		case u == '\t':
			buf = append(buf, '\\', 't')
		case u < 0x20:
			buf = append(buf, '\\', 'u', '0', '0', hex[u>>4], hex[u&15])
		case u < utf8.RuneSelf:
			buf = append(buf, byte(u))
		case isHighSurrogate(u) && i+1 < len(units) && isLowSurrogate(units[i+1]):
			buf = utf8.AppendRune(buf, utf16.DecodeRune(rune(u), rune(units[i+1])))
			i++
		case utf16.IsSurrogate(rune(u)):
			buf = append(buf, '\\', 'u', hex[u>>12], hex[u>>8&15], hex[u>>4&15], hex[u&15])
		default:
			buf = utf8.AppendRune(buf, rune(u))
		}
	}
	return append(buf, '"')
}

func isHighSurrogate(u uint16) bool { return u >= 0xd800 && u < 0xdc00 }
func isLowSurrogate(u uint16) bool  { return u >= 0xdc00 && u < 0xe000 }

// parser reads the ChangeSet JSON grammar directly rather than through
// encoding/json, for three reasons: encoding/json silently turns unpaired
// surrogates and invalid UTF-8 into U+FFFD (changing the text without an
// error), strings must become UTF-16 anyway, and limits can stop the parse
// early instead of after decoding everything.
type parser struct {
	data         []byte
	pos          int
	maxEntries   int
	insertBudget int // UTF-16 units of inserted text still allowed
}

func (p *parser) errorf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%s at byte %d: %w", fmt.Sprintf(format, args...), p.pos, sentinel)
}

func (p *parser) skipSpace() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

// peek returns the next non-space byte, or 0 at the end of input (a NUL
// byte is no valid token either).
func (p *parser) peek() byte {
	p.skipSpace()
	if p.pos < len(p.data) {
		return p.data[p.pos]
	}
	return 0
}

func (p *parser) changeSet() (ChangeSet, error) {
	var c ChangeSet
	if p.peek() != '[' {
		return c, p.errorf(ErrMalformed, "expected a JSON array")
	}
	p.pos++
	total := 0 // LenBefore so far
	prevN, prevIns := 0, 0
	if p.peek() == ']' {
		p.pos++
	} else {
		for entry := 0; ; entry++ {
			if entry >= p.maxEntries {
				return ChangeSet{}, p.errorf(ErrTooLarge, "more than %d entries", p.maxEntries)
			}
			n, ins, text, err := p.entry()
			if err != nil {
				return ChangeSet{}, fmt.Errorf("entry %d: %w", entry, err)
			}
			if err := canonical(entry, n, ins, text, prevN, prevIns); err != nil {
				return ChangeSet{}, p.errorf(ErrMalformed, "entry %d: %v", entry, err)
			}
			prevN, prevIns = n, ins
			if total += n; total > MaxLength {
				return ChangeSet{}, p.errorf(ErrTooLarge, "document length over %d", MaxLength)
			}
			c.sections = append(c.sections, n, ins)
			if text != nil {
				for len(c.inserted) < entry {
					c.inserted = append(c.inserted, nil)
				}
				c.inserted = append(c.inserted, text)
			}
			if p.peek() == ',' {
				p.pos++
				continue
			}
			if p.peek() != ']' {
				return ChangeSet{}, p.errorf(ErrMalformed, "expected ',' or ']' after entry %d", entry)
			}
			p.pos++
			break
		}
	}
	if p.skipSpace(); p.pos != len(p.data) {
		return ChangeSet{}, p.errorf(ErrMalformed, "unexpected data after the array")
	}
	return c, nil
}

// canonical checks that an entry is one CodeMirror could have written,
// given the previous one: its toJSON never writes an entry that changes
// nothing (0, [0], [n,""]) and its builders merge neighbouring kept ranges,
// deletions and insertions. CodeMirror's fromJSON accepts such entries, but
// its own Map then fails on some of them (a trailing 0, for one), so a
// server must not pass them on to other editors.
func canonical(entry, n, ins int, text []uint16, prevN, prevIns int) error {
	switch {
	case text != nil && len(text) == 0:
		return errors.New(`inserts empty text (CodeMirror writes [n] or nothing)`)
	case n == 0 && ins <= 0:
		return errors.New("changes nothing (CodeMirror leaves it out)")
	case entry == 0:
		return nil
	case ins == kept && prevIns == kept:
		return errors.New("two kept entries in a row (CodeMirror merges them)")
	case ins == 0 && prevIns == 0:
		return errors.New("two deletions in a row (CodeMirror merges them)")
	case n == 0 && prevN == 0:
		return errors.New("two insertions in a row (CodeMirror merges them)")
	}
	return nil
}

// entry reads one top-level entry. text is non-nil exactly when the entry
// had line strings (even [n, ""], whose text is empty), like CodeMirror,
// which keeps a Text for every such entry.
func (p *parser) entry() (n, ins int, text []uint16, err error) {
	switch c := p.peek(); {
	case c == '-' || c >= '0' && c <= '9':
		n, err = p.integer()
		return n, kept, nil, err
	case c != '[':
		return 0, 0, nil, p.errorf(ErrMalformed, "expected an integer or an array")
	}
	p.pos++
	if c := p.peek(); c != '-' && (c < '0' || c > '9') {
		return 0, 0, nil, p.errorf(ErrMalformed, "array entry must start with an integer length")
	}
	if n, err = p.integer(); err != nil {
		return 0, 0, nil, err
	}
	text = []uint16{}
	for line := 0; ; line++ {
		switch p.peek() {
		case ']':
			p.pos++
			if line == 0 {
				return n, 0, nil, nil // [n]: a deletion
			}
			return n, len(text), text, nil
		case ',':
			p.pos++
		default:
			return 0, 0, nil, p.errorf(ErrMalformed, "expected ',' or ']' in array entry")
		}
		if line > 0 {
			if p.insertBudget--; p.insertBudget < 0 {
				return 0, 0, nil, p.errorf(ErrTooLarge, "inserted text over the limit")
			}
			text = append(text, '\n')
		}
		if p.peek() != '"' {
			return 0, 0, nil, p.errorf(ErrMalformed, "line %d is not a string", line)
		}
		if text, err = p.str(text); err != nil {
			return 0, 0, nil, fmt.Errorf("line %d: %w", line, err)
		}
	}
}

// integer reads a non-negative JSON integer of at most MaxLength.
func (p *parser) integer() (int, error) {
	d := p.data
	if d[p.pos] == '-' {
		return 0, p.errorf(ErrMalformed, "negative number")
	}
	start, n := p.pos, 0
	for p.pos < len(d) && d[p.pos] >= '0' && d[p.pos] <= '9' {
		if n = n*10 + int(d[p.pos]-'0'); n > MaxLength {
			return 0, p.errorf(ErrTooLarge, "number over %d", MaxLength)
		}
		p.pos++
	}
	if d[start] == '0' && p.pos-start > 1 {
		return 0, p.errorf(ErrMalformed, "number with a leading zero")
	}
	if p.pos < len(d) && (d[p.pos] == '.' || d[p.pos] == 'e' || d[p.pos] == 'E') {
		return 0, p.errorf(ErrMalformed, "number is not a plain integer")
	}
	return n, nil
}

// str reads a JSON string at p.pos, appending its UTF-16 units to dst.
func (p *parser) str(dst []uint16) ([]uint16, error) {
	d := p.data
	p.pos++ // opening quote
	for {
		if p.pos >= len(d) {
			return dst, p.errorf(ErrMalformed, "unterminated string")
		}
		c := d[p.pos]
		var u uint16 // the unit to append, unless the case appended itself
		switch {
		case c == '"':
			p.pos++
			return dst, nil
		case c < 0x20:
			return dst, p.errorf(ErrMalformed, "control character in string")
		case c == '\\':
			var err error
			if u, err = p.escape(); err != nil {
				return dst, err
			}
			if isHighSurrogate(u) {
				// JSON spells an astral character as two \u escapes; only
				// a complete pair is text a Go string can hold.
				low, ok := p.lowSurrogate()
				if !ok {
					return dst, p.errorf(ErrLoneSurrogate, "high surrogate \\u%04x without its low half", u)
				}
				if p.insertBudget -= 2; p.insertBudget < 0 {
					return dst, p.errorf(ErrTooLarge, "inserted text over the limit")
				}
				dst = append(dst, u, low)
				continue
			}
			if isLowSurrogate(u) {
				return dst, p.errorf(ErrLoneSurrogate, "low surrogate \\u%04x without its high half", u)
			}
		case c < utf8.RuneSelf:
			u = uint16(c)
			p.pos++
		default:
			r, size := utf8.DecodeRune(d[p.pos:])
			if r == utf8.RuneError && size == 1 {
				return dst, p.errorf(ErrInvalidUTF8, "invalid UTF-8 in string")
			}
			p.pos += size
			if r >= 0x10000 {
				if p.insertBudget -= 2; p.insertBudget < 0 {
					return dst, p.errorf(ErrTooLarge, "inserted text over the limit")
				}
				hi, lo := utf16.EncodeRune(r)
				dst = append(dst, uint16(hi), uint16(lo))
				continue
			}
			u = uint16(r)
		}
		if p.insertBudget--; p.insertBudget < 0 {
			return dst, p.errorf(ErrTooLarge, "inserted text over the limit")
		}
		dst = append(dst, u)
	}
}

// escape reads a backslash escape and returns the unit it stands for.
// Errors point at the backslash.
func (p *parser) escape() (uint16, error) {
	d := p.data[p.pos:]
	if len(d) < 2 {
		return 0, p.errorf(ErrMalformed, "unterminated escape")
	}
	u, size := uint16(d[1]), 2
	switch d[1] {
	case '"', '\\', '/':
	case 'b':
		u = '\b'
	case 'f':
		u = '\f'
	case 't':
		u = '\t'
	case 'n', 'r':
		u = '\n'
	case 'u':
		v, ok := hex4(d[2:])
		if !ok {
			return 0, p.errorf(ErrMalformed, "bad \\u escape")
		}
		u, size = v, 6
	default:
		return 0, p.errorf(ErrMalformed, "unknown escape \\%c", d[1])
	}
	if u == '\n' || u == '\r' {
		// CodeMirror sends each line as its own string; a break inside one
		// would be counted differently by an editor loading the document.
		return 0, p.errorf(ErrMalformed, "line break inside a line string")
	}
	p.pos += size
	return u, nil
}

// lowSurrogate consumes a following \uDC00-\uDFFF escape, if there is one.
func (p *parser) lowSurrogate() (uint16, bool) {
	d := p.data[p.pos:]
	if len(d) < 2 || d[0] != '\\' || d[1] != 'u' {
		return 0, false
	}
	v, ok := hex4(d[2:])
	if !ok || !isLowSurrogate(v) {
		return 0, false
	}
	p.pos += 6
	return v, true
}

// hex4 decodes the four hex digits at the start of d.
func hex4(d []byte) (uint16, bool) {
	if len(d) < 4 {
		return 0, false
	}
	var v uint16
	for _, c := range d[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		v = v<<4 | uint16(c)
	}
	return v, true
}

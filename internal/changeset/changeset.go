// Package changeset is CodeMirror 6's ChangeSet in Go: the JSON form that
// @codemirror/collab clients send (ChangeSet.toJSON), applying it to a
// document, and the Map and Compose operations a client needs to rebase
// unconfirmed changes over remote ones.
//
// Positions and lengths are UTF-16 code units, as in JavaScript: a code point
// at or above U+10000 counts 2, a line break counts 1. Documents are Go
// strings holding exactly what CodeMirror's doc.toString() returns, lines
// joined by "\n" (CodeMirror never keeps "\r" in a document; see
// NormalizeLineBreaks).
//
// The representation copies CodeMirror's internal one (sections of
// length/inserted-length pairs, inserted text per section) and Map and
// Compose follow its algorithms step by step, so a Go peer and a browser
// peer produce byte-identical JSON for the same operations. A differential
// test runs both against each other.
//
// Two boundaries are stricter than JavaScript:
//   - Parse accepts only what an editor's toJSON writes: canonical sets
//     (no empty entries, no neighbours CodeMirror would have merged; its
//     own Map throws on some of those), plain non-negative integers, and
//     line strings that are valid UTF-8 with no "\r" or "\n" (ErrMalformed;
//     CodeMirror sends line breaks as separate line entries, and a "\r"
//     inside a line would make the server's document disagree with what a
//     freshly loaded editor counts) and no unpaired surrogate
//     (ErrLoneSurrogate, as a Go string cannot hold one).
//   - Apply fails with ErrLoneSurrogate when the result would contain an
//     unpaired surrogate, which happens when a change splits a pair and
//     nothing re-pairs it. A change that splits pairs but leaves a
//     well-formed result is applied exactly as JavaScript would.
//
// Inside a ChangeSet, text is kept as UTF-16, so Map and Compose never fail
// on split pairs: Compose may produce inserted text holding an unpaired
// surrogate, and MarshalJSON writes it as JSON.stringify does ("\ud83d").
//
// The package does no I/O; everything is a pure function of its inputs.
package changeset

import (
	"errors"
	"strconv"
	"strings"
)

// Sentinel errors. Every error returned by this package wraps one of them,
// so callers can use errors.Is to tell bad input from a stale document.
var (
	// ErrMalformed means the JSON does not have the ChangeSet shape: not an
	// array, an entry that is neither an integer nor [integer, strings...],
	// a negative or non-integer number, a line break inside a line, or a
	// set that is not canonical (see Limits.Parse).
	ErrMalformed = errors.New("malformed changeset")
	// ErrTooLarge means a number, the document length, the entry count or
	// the inserted text exceeds MaxLength or the Limits in force.
	ErrTooLarge = errors.New("changeset too large")
	// ErrLengthMismatch means the document's length is not the length the
	// changes start from (LenBefore): the changes belong to another version.
	ErrLengthMismatch = errors.New("changeset length mismatch")
	// ErrLoneSurrogate means text would hold a UTF-16 surrogate without its
	// other half, which a Go (UTF-8) string cannot represent.
	ErrLoneSurrogate = errors.New("unpaired UTF-16 surrogate")
	// ErrInvalidUTF8 means input bytes or a document are not valid UTF-8.
	ErrInvalidUTF8 = errors.New("invalid UTF-8")
)

// MaxLength caps every number in a changeset and the document length it
// applies to. It keeps all length arithmetic far from int overflow, even with
// many entries, and is well beyond any document an editor can hold.
const MaxLength = 1 << 30

// kept marks a section that keeps its text, in place of an inserted length.
const kept = -1

// ChangeSet is a set of changes to a document, as in CodeMirror.
//
// Like CodeMirror, it stores sections as pairs in one slice: the length in
// the old document, then -1 when that range is kept or else the length of
// the text replacing it. inserted[i] is the text (UTF-16, lines joined by
// '\n') of section i; it may be shorter than the number of sections, and is
// empty for sections that insert nothing.
//
// The zero value is the empty change set of a zero-length document. A
// ChangeSet is immutable: every method returns a new value and values may
// share memory safely.
type ChangeSet struct {
	sections []int
	inserted [][]uint16
}

// Unchanged returns the change set that keeps a document of the given length
// as it is (CodeMirror's ChangeSet.empty(length)).
func Unchanged(length int) ChangeSet {
	if length == 0 {
		return ChangeSet{}
	}
	return ChangeSet{sections: []int{length, kept}}
}

// LenBefore returns the length, in UTF-16 units, of the document the changes
// apply to.
func (c ChangeSet) LenBefore() int {
	n := 0
	for i := 0; i < len(c.sections); i += 2 {
		n += c.sections[i]
	}
	return n
}

// LenAfter returns the length, in UTF-16 units, of the document the changes
// produce.
func (c ChangeSet) LenAfter() int {
	n := 0
	for i := 0; i < len(c.sections); i += 2 {
		if ins := c.sections[i+1]; ins == kept {
			n += c.sections[i]
		} else {
			n += ins
		}
	}
	return n
}

// Empty reports whether the set changes nothing, with CodeMirror's exact
// rule (no sections, or one kept section). Note that a set parsed from
// non-canonical JSON such as [2,3] changes nothing yet is not Empty, as in
// CodeMirror; the rule matters because Map and Compose short-cut on it.
func (c ChangeSet) Empty() bool {
	return len(c.sections) == 0 || len(c.sections) == 2 && c.sections[1] < 0
}

// String returns CodeMirror's debugging form: "len" for a kept section and
// "len:ins" for a change, separated by spaces (e.g. "3 2:0 0:5").
func (c ChangeSet) String() string {
	var b strings.Builder
	for i := 0; i < len(c.sections); i += 2 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.Itoa(c.sections[i]))
		if ins := c.sections[i+1]; ins >= 0 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(ins))
		}
	}
	return b.String()
}

// text returns the inserted text of section index i (empty if none).
func (c ChangeSet) text(i int) []uint16 {
	if i < len(c.inserted) {
		return c.inserted[i]
	}
	return nil
}

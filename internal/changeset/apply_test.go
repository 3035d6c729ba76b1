package changeset

import (
	"errors"
	"testing"
)

func TestUTF16Len(t *testing.T) {
	tests := []struct {
		s    string
		want int
	}{
		{"", 0},
		{"abc", 3},
		{"\u00e9", 1},           // é precomposed: 2 bytes, 1 unit
		{"e\u0301", 2},          // e + combining acute: 2 units
		{"漢字", 2},               // 6 bytes
		{"😀", 2},                // astral: 4 bytes, 2 units
		{"👍🏽", 4},               // two astral runes
		{"a\nb", 3},             // a line break is 1
		{"a\r\nb", 4},           // CRLF is 2 until normalised
		{"\xff", 1},             // invalid byte: counted as U+FFFD
		{"a\U0010FFFFb", 4},     // last code point
		{"\uFFFF\U00010000", 3}, // around the astral boundary
	}
	for _, tt := range tests {
		if got := UTF16Len(tt.s); got != tt.want {
			t.Errorf("UTF16Len(%q) = %d; want %d", tt.s, got, tt.want)
		}
	}
}

func TestNormalizeLineBreaks(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"a\nb", "a\nb"},
		{"a\r\nb", "a\nb"},
		{"a\rb", "a\nb"},
		{"a\r\r\nb\n\r", "a\n\nb\n\n"},
	}
	for _, tt := range tests {
		if got := NormalizeLineBreaks(tt.in); got != tt.want {
			t.Errorf("NormalizeLineBreaks(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestApply(t *testing.T) {
	tests := []struct {
		name, doc, changes string
		want               string
		wantErr            error
	}{
		{name: "insert into empty doc", doc: "", changes: `[[0,"a","b"]]`, want: "a\nb"},
		{name: "empty set on empty doc", doc: "", changes: `[]`, want: ""},
		{name: "keep all", doc: "a👍🏽b", changes: `[6]`, want: "a👍🏽b"},
		{name: "replace whole doc", doc: "abc", changes: `[[3,"x"]]`, want: "x"},
		{name: "append at end", doc: "ab", changes: `[2,[0,"c"]]`, want: "abc"},
		{name: "emoji replaced by emoji", doc: "a👍🏽b", changes: `[1,[4,"👍"],1]`, want: "a👍b"},
		{name: "skin tone removed", doc: "👍🏽", changes: `[2,[2]]`, want: "👍"},
		{name: "skin tone changed", doc: "👍🏽", changes: `[2,[2,"🏿"]]`, want: "👍🏿"},
		{name: "combining mark deleted alone", doc: "e\u0301x", changes: `[1,[1],1]`, want: "ex"},
		{name: "combining mark added", doc: "ex", changes: `[1,[0,"\u0301"],1]`, want: "e\u0301x"},
		{name: "CJK", doc: "漢字", changes: `[1,[1,"語"]]`, want: "漢語"},
		{name: "join lines", doc: "a\nb", changes: `[1,[1],1]`, want: "ab"},
		{name: "split line", doc: "ab", changes: `[1,[0,"",""],1]`, want: "a\nb"},
		{name: "CRLF counts 2 in a raw doc", doc: "a\r\nb", changes: `[1,[2,"-"],1]`, want: "a-b"},
		{name: "several changes", doc: "hello, world", changes: `[[5,"bye"],2,[5],[0,"🌍"]]`, want: "bye, 🌍"},
		{name: "pair split and rejoined", doc: "😀😁", changes: `[1,[2],1]`, want: "😁"},
		{name: "halves of two pairs rejoin across a deletion", doc: "😀x😁", changes: `[1,[3],1]`, want: "😁"},
		{name: "length short", doc: "abc", changes: `[2]`, wantErr: ErrLengthMismatch},
		{name: "length long", doc: "abc", changes: `[4]`, wantErr: ErrLengthMismatch},
		{name: "astral counted as 1", doc: "😀", changes: `[1]`, wantErr: ErrLengthMismatch},
		{name: "bytes counted", doc: "漢", changes: `[3]`, wantErr: ErrLengthMismatch},
		{name: "invalid UTF-8 doc", doc: "a\xffb", changes: `[3]`, wantErr: ErrInvalidUTF8},
		{name: "low half left alone", doc: "😀", changes: `[[1],1]`, wantErr: ErrLoneSurrogate},
		{name: "high half left alone", doc: "😀", changes: `[1,[1]]`, wantErr: ErrLoneSurrogate},
		{name: "insert between halves", doc: "😀", changes: `[1,[0,"x"],1]`, wantErr: ErrLoneSurrogate},
		{name: "high half before a BMP char", doc: "😀b", changes: `[1,[1],1]`, wantErr: ErrLoneSurrogate},
		{name: "high half at end of kept run", doc: "a😀", changes: `[2,[1,"x"]]`, wantErr: ErrLoneSurrogate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.changes))
			if err != nil {
				t.Fatalf("Parse(%s): %v", tt.changes, err)
			}
			got, err := c.Apply(tt.doc)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Apply(%q) = %q, %v; want error %v", tt.doc, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Apply(%q) = %q, %v; want %q", tt.doc, got, err, tt.want)
			}
			if n := UTF16Len(got); n != c.LenAfter() {
				t.Errorf("result has length %d; LenAfter is %d", n, c.LenAfter())
			}
		})
	}
}

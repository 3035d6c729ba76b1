package changeset

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestParseRejects(t *testing.T) {
	tests := []struct {
		name   string
		limits Limits
		input  string
		want   error
	}{
		{name: "empty input", input: ``, want: ErrMalformed},
		{name: "not JSON", input: `x`, want: ErrMalformed},
		{name: "null", input: `null`, want: ErrMalformed},
		{name: "object", input: `{}`, want: ErrMalformed},
		{name: "top-level string", input: `"[1]"`, want: ErrMalformed},
		{name: "unterminated array", input: `[1`, want: ErrMalformed},
		{name: "trailing comma", input: `[1,]`, want: ErrMalformed},
		{name: "missing comma", input: `[1 [2]]`, want: ErrMalformed},
		{name: "trailing data", input: `[1] x`, want: ErrMalformed},
		{name: "extra bracket", input: `[1]]`, want: ErrMalformed},
		{name: "trailing NUL", input: "[]\x00", want: ErrMalformed},
		{name: "null entry", input: `[null]`, want: ErrMalformed},
		{name: "bool entry", input: `[true]`, want: ErrMalformed},
		{name: "string entry", input: `["3"]`, want: ErrMalformed},
		{name: "object entry", input: `[{}]`, want: ErrMalformed},
		{name: "empty array entry", input: `[[]]`, want: ErrMalformed},
		{name: "array entry starting with a string", input: `[["a"]]`, want: ErrMalformed},
		{name: "nested array", input: `[[[1]]]`, want: ErrMalformed},
		{name: "fraction", input: `[1.5]`, want: ErrMalformed},
		{name: "integer written as fraction", input: `[1.0]`, want: ErrMalformed},
		{name: "exponent", input: `[1e3]`, want: ErrMalformed},
		{name: "negative keep", input: `[-1]`, want: ErrMalformed},
		{name: "negative zero", input: `[-0]`, want: ErrMalformed},
		{name: "negative delete", input: `[[-1]]`, want: ErrMalformed},
		{name: "leading zero", input: `[01]`, want: ErrMalformed},
		{name: "number over MaxLength", input: `[1073741825]`, want: ErrTooLarge},
		{name: "number overflowing int64", input: `[99999999999999999999999999]`, want: ErrTooLarge},
		{name: "document over MaxLength", input: `[1073741824,[0,"a"],1]`, want: ErrTooLarge},
		{name: "number line", input: `[[0,1]]`, want: ErrMalformed},
		{name: "null line", input: `[[0,null]]`, want: ErrMalformed},
		{name: "array line", input: `[[0,["a"]]]`, want: ErrMalformed},
		{name: "trailing comma in entry", input: `[[0,"a",]]`, want: ErrMalformed},
		{name: "unterminated string", input: `[[0,"a`, want: ErrMalformed},
		{name: "unterminated escape", input: `[[0,"a\`, want: ErrMalformed},
		{name: "raw tab in string", input: "[[0,\"a\tb\"]]", want: ErrMalformed},
		{name: "raw newline in string", input: "[[0,\"a\nb\"]]", want: ErrMalformed},
		{name: "escaped newline in line", input: `[[0,"a\nb"]]`, want: ErrMalformed},
		{name: "escaped CR in line", input: `[[0,"a\r"]]`, want: ErrMalformed},
		{name: "CR as \\u escape", input: `[[0,"\u000D"]]`, want: ErrMalformed},
		{name: "LF as \\u escape", input: `[[0,"\u000a"]]`, want: ErrMalformed},
		{name: "unknown escape", input: `[[0,"\x41"]]`, want: ErrMalformed},
		{name: "short \\u escape", input: `[[0,"\u12"]]`, want: ErrMalformed},
		{name: "bad hex", input: `[[0,"\u12G4"]]`, want: ErrMalformed},
		{name: "lone high surrogate", input: `[[0,"\ud83d"]]`, want: ErrLoneSurrogate},
		{name: "high surrogate then letter", input: `[[0,"\ud83da"]]`, want: ErrLoneSurrogate},
		{name: "high surrogate then BMP escape", input: `[[0,"\ud83d\u0041"]]`, want: ErrLoneSurrogate},
		{name: "two high surrogates", input: `[[0,"\ud83d\ud83d\ude00"]]`, want: ErrLoneSurrogate},
		{name: "lone low surrogate", input: `[[0,"\ude00"]]`, want: ErrLoneSurrogate},
		{name: "invalid UTF-8 byte", input: "[[0,\"\xff\"]]", want: ErrInvalidUTF8},
		{name: "UTF-8 encoded surrogate", input: "[[0,\"\xed\xa0\x80\"]]", want: ErrInvalidUTF8},
		{name: "overlong UTF-8", input: "[[0,\"\xc0\xaf\"]]", want: ErrInvalidUTF8},
		{name: "zero keep", input: `[0]`, want: ErrMalformed},
		{name: "trailing zero keep", input: `[3,0]`, want: ErrMalformed},
		{name: "zero delete", input: `[[0]]`, want: ErrMalformed},
		{name: "empty insertion", input: `[[0,""]]`, want: ErrMalformed},
		{name: "replacement by empty text", input: `[[2,""]]`, want: ErrMalformed},
		{name: "two keeps in a row", input: `[1,2]`, want: ErrMalformed},
		{name: "two deletions in a row", input: `[[1],[2]]`, want: ErrMalformed},
		{name: "two insertions in a row", input: `[[0,"a"],[0,"b"]]`, want: ErrMalformed},
		{name: "too many entries", limits: Limits{MaxEntries: 2}, input: `[1,[1],1]`, want: ErrTooLarge},
		{name: "insertion over limit", limits: Limits{MaxInsertUnits: 3}, input: `[[0,"abcd"]]`, want: ErrTooLarge},
		{name: "line breaks count to the limit", limits: Limits{MaxInsertUnits: 3}, input: `[[0,"ab","c"]]`, want: ErrTooLarge},
		{name: "astral characters count 2", limits: Limits{MaxInsertUnits: 3}, input: `[[0,"😀😀"]]`, want: ErrTooLarge},
		{name: "escaped pairs count 2", limits: Limits{MaxInsertUnits: 3}, input: `[[0,"\ud83d\ude00\ud83d\ude00"]]`, want: ErrTooLarge},
		{name: "limit is over all entries", limits: Limits{MaxInsertUnits: 3}, input: `[[0,"ab"],[1,"cd"]]`, want: ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tt.limits.Parse([]byte(tt.input))
			if !errors.Is(err, tt.want) {
				t.Fatalf("Parse(%q) = %v, %v; want error %v", tt.input, c, err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "changeset: ") {
				t.Errorf("error %q does not say where it comes from", err)
			}
		})
	}
}

func TestParseAccepts(t *testing.T) {
	tests := []struct {
		name                string
		limits              Limits
		input, wantJSON     string
		lenBefore, lenAfter int
		empty               bool
	}{
		{name: "empty set", input: `[]`, wantJSON: `[]`, empty: true},
		{name: "keep only", input: `[5]`, wantJSON: `[5]`, lenBefore: 5, lenAfter: 5, empty: true},
		{name: "whitespace", input: " [ 3 , [ 2 ] , [ 0 , \"a\" , \"b\" ] ]\n", wantJSON: `[3,[2],[0,"a","b"]]`, lenBefore: 5, lenAfter: 6},
		{name: "MaxLength", input: `[1073741824]`, wantJSON: `[1073741824]`, lenBefore: MaxLength, lenAfter: MaxLength, empty: true},
		{name: "empty lines", input: `[[0,"","",""]]`, wantJSON: `[[0,"","",""]]`, lenAfter: 2},
		{name: "escaped BMP", input: `[[1,"\u00e9\u6F22"]]`, wantJSON: `[[1,"é漢"]]`, lenBefore: 1, lenAfter: 2},
		{name: "escaped pair", input: `[[0,"\ud83d\ude00"]]`, wantJSON: `[[0,"😀"]]`, lenAfter: 2},
		{name: "astral literal", input: `[[0,"👍🏽"]]`, wantJSON: `[[0,"👍🏽"]]`, lenAfter: 4},
		{name: "combining mark", input: `[[1,"e\u0301"]]`, wantJSON: "[[1,\"e\u0301\"]]", lenBefore: 1, lenAfter: 2},
		{name: "JS escaping", input: `[[0,"\u0001\u001f\b\f\t\"\\\/\u007f"]]`, wantJSON: "[[0,\"\\u0001\\u001f\\b\\f\\t\\\"\\\\/\u007f\"]]", lenAfter: 9},
		{name: "no HTML or U+2028 escaping", input: `[[0,"<>&\u2028\u2029"]]`, wantJSON: "[[0,\"<>&\u2028\u2029\"]]", lenAfter: 5},
		{name: "NUL", input: `[[0,"\u0000"]]`, wantJSON: `[[0,"\u0000"]]`, lenAfter: 1},
		{name: "delete then insert", input: `[[2],[0,"x"],1]`, wantJSON: `[[2],[0,"x"],1]`, lenBefore: 3, lenAfter: 2},
		{name: "replace then insert", input: `[[1,"x"],[0,"y"],1]`, wantJSON: `[[1,"x"],[0,"y"],1]`, lenBefore: 2, lenAfter: 3},
		{name: "adjacent replacements", input: `[[1,"x"],[1,"y"]]`, wantJSON: `[[1,"x"],[1,"y"]]`, lenBefore: 2, lenAfter: 2},
		{name: "insertion at the limit", limits: Limits{MaxInsertUnits: 3}, input: `[[0,"a","b"]]`, wantJSON: `[[0,"a","b"]]`, lenAfter: 3},
		{name: "entries at the limit", limits: Limits{MaxEntries: 3}, input: `[1,[1],1]`, wantJSON: `[1,[1],1]`, lenBefore: 3, lenAfter: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tt.limits.Parse([]byte(tt.input))
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.input, err)
			}
			got, err := c.MarshalJSON()
			if err != nil || string(got) != tt.wantJSON {
				t.Errorf("MarshalJSON = %s, %v; want %s", got, err, tt.wantJSON)
			}
			if c.LenBefore() != tt.lenBefore || c.LenAfter() != tt.lenAfter || c.Empty() != tt.empty {
				t.Errorf("LenBefore, LenAfter, Empty = %d, %d, %v; want %d, %d, %v",
					c.LenBefore(), c.LenAfter(), c.Empty(), tt.lenBefore, tt.lenAfter, tt.empty)
			}
		})
	}
}

func TestZeroValueIsEmptySet(t *testing.T) {
	var c ChangeSet
	got, _ := c.MarshalJSON()
	if string(got) != "[]" || !c.Empty() || c.LenBefore() != 0 || c.LenAfter() != 0 {
		t.Errorf("zero ChangeSet = %s, Empty %v, lengths %d %d", got, c.Empty(), c.LenBefore(), c.LenAfter())
	}
	if doc, err := c.Apply(""); doc != "" || err != nil {
		t.Errorf("zero ChangeSet Apply(\"\") = %q, %v", doc, err)
	}
}

func TestUnchanged(t *testing.T) {
	for _, n := range []int{0, 1, 7} {
		c := Unchanged(n)
		if !c.Empty() || c.LenBefore() != n || c.LenAfter() != n {
			t.Errorf("Unchanged(%d) = %v: Empty %v, lengths %d %d", n, c, c.Empty(), c.LenBefore(), c.LenAfter())
		}
	}
}

func TestJSONInMessages(t *testing.T) {
	type push struct {
		Version int       `json:"version"`
		Changes ChangeSet `json:"changes"`
	}
	var p push
	if err := json.Unmarshal([]byte(`{"version":3,"changes":[1,[0,"👍🏽"],[2]]}`), &p); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"version":3,"changes":[1,[0,"👍🏽"],[2]]}`; string(out) != want {
		t.Errorf("round trip through a struct = %s; want %s", out, want)
	}
	err = json.Unmarshal([]byte(`{"version":3,"changes":[1,[0,"\ud83d"]]}`), &p)
	if !errors.Is(err, ErrLoneSurrogate) {
		t.Errorf("Unmarshal of a lone surrogate: %v; want ErrLoneSurrogate", err)
	}
}

func TestErrorSaysWhere(t *testing.T) {
	_, err := Parse([]byte(`[1,[2,"ok","bad\n"]]`))
	want := "changeset: entry 1: line 1: line break inside a line string at byte 15: malformed changeset"
	if err == nil || err.Error() != want {
		t.Errorf("error = %v; want %s", err, want)
	}
}

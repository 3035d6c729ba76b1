package changeset

import (
	"strconv"
	"strings"
	"testing"
)

// benchDoc returns about 64 KiB of mixed text (ASCII with CJK and emoji) and
// a change set that edits every fourth line, like a multi-cursor edit.
func benchDoc(b *testing.B) (string, ChangeSet) {
	b.Helper()
	var doc strings.Builder
	var entries []string
	kept := 0
	for i := 0; doc.Len() < 64<<10; i++ {
		line := "func example() { return \"hello, 世界\" } // 👍🏽 " + strings.Repeat("x", i%40) + "\n"
		doc.WriteString(line)
		if i%4 != 0 {
			kept += UTF16Len(line)
			continue
		}
		// Replace the leading "func" with "fn 漢".
		if kept > 0 {
			entries = append(entries, strconv.Itoa(kept))
		}
		entries = append(entries, `[4,"fn 漢"]`)
		kept = UTF16Len(line) - 4
	}
	entries = append(entries, strconv.Itoa(kept))
	c, err := Parse([]byte("[" + strings.Join(entries, ",") + "]"))
	if err != nil {
		b.Fatal(err)
	}
	return doc.String(), c
}

func BenchmarkApply64KiB(b *testing.B) {
	doc, c := benchDoc(b)
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		if _, err := c.Apply(doc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	_, c := benchDoc(b)
	data := []byte(mustJSON(b, c))
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMapAndCompose(b *testing.B) {
	doc, c := benchDoc(b)
	other := mustParse(b, `[[0,"// header","",""],`+strconv.Itoa(UTF16Len(doc))+`]`)
	for b.Loop() {
		_ = other.Compose(c.Map(other, false))
	}
}

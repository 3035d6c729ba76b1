package changeset

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics, fails only with this package's
// sentinel errors, and that what it accepts round-trips through MarshalJSON
// unchanged and applies to a document of length LenBefore giving LenAfter.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		`[]`, `[5]`, `[3,[2],[0,"a","b"]]`, `[[0,"😀"]]`, `[[0,"\ud83d\ude00"]]`,
		`[1,[1,"e\u0301"],[2],[0,"漢","",""]]`, `[[0,"\u0001\b\"\\\/"]]`,
		`[[0,"\ud83d"]]`, `[3,0]`, `[-1]`, `[1.5]`, `[[0,"a\nb"]]`, `[1073741825]`,
		"[[0,\"\xff\"]]", `{"a":1}`, `[[1,"x"],[0,"y"],1]`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Limits{MaxEntries: 1000, MaxInsertUnits: 1 << 14}.Parse(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) &&
				!errors.Is(err, ErrLoneSurrogate) && !errors.Is(err, ErrInvalidUTF8) {
				t.Fatalf("Parse(%q): error %v wraps no sentinel", data, err)
			}
			return
		}
		out := mustJSON(t, c)
		again := mustJSON(t, mustParse(t, out))
		if again != out {
			t.Fatalf("Parse(%q) marshals to %s, which re-marshals to %s", data, out, again)
		}
		if c.LenBefore() > 1<<16 {
			return // keep the document small
		}
		doc := strings.Repeat("a", c.LenBefore())
		got, err := c.Apply(doc)
		if err != nil {
			t.Fatalf("Apply of %s to %d units: %v", out, len(doc), err)
		}
		if n := UTF16Len(got); n != c.LenAfter() {
			t.Fatalf("Apply of %s: length %d; LenAfter %d", out, n, c.LenAfter())
		}
		// Map and Compose with itself must not panic and keep lengths.
		if m := c.Map(c, true); m.LenBefore() != c.LenAfter() {
			t.Fatalf("Map of %s over itself starts at %d; want %d", out, m.LenBefore(), c.LenAfter())
		}
		if k := c.Compose(Unchanged(c.LenAfter())); mustJSON(t, k) != out {
			t.Fatalf("Compose of %s with nothing = %s", out, mustJSON(t, k))
		}
	})
}

// FuzzMapCompose feeds pairs of change sets on the same document through
// Map and Compose: no panic, lengths as documented, and canonical results
// (Parse reads them back unchanged unless they hold a split pair), and
// both orders of rebasing give the same document.
func FuzzMapCompose(f *testing.F) {
	for _, seed := range [][2]string{
		{`[[0,"a"],3]`, `[[0,"b"],3]`},
		{`[1,[1,"x"],1]`, `[[3]]`},
		{`[[3,"ab"]]`, `[1,[0,"z"],2]`},
		{`[2,[0,"😀"],1]`, `[1,[2,"q","r"]]`},
		{`[[1],[0,"x","y"],2]`, `[[1,"w"],1,[1],[0,"v"]]`},
	} {
		f.Add([]byte(seed[0]), []byte(seed[1]))
	}
	f.Fuzz(func(t *testing.T, dataA, dataB []byte) {
		a, errA := Parse(dataA)
		b, errB := Parse(dataB)
		if errA != nil || errB != nil || a.LenBefore() != b.LenBefore() {
			return
		}
		aOverB, bOverA := a.Map(b, false), b.Map(a, true)
		if aOverB.LenBefore() != b.LenAfter() || bOverA.LenBefore() != a.LenAfter() {
			t.Fatalf("Map lengths wrong for %s and %s", dataA, dataB)
		}
		x, y := b.Compose(aOverB), a.Compose(bOverA)
		if x.LenBefore() != a.LenBefore() || x.LenAfter() != y.LenAfter() {
			t.Fatalf("Compose lengths wrong for %s and %s: %v vs %v", dataA, dataB, x, y)
		}
		for _, c := range []ChangeSet{aOverB, bOverA, x, y} {
			assertCanonical(t, c)
		}
		if a.LenBefore() > 1<<16 {
			return
		}
		// The two peers converge. An ASCII document has no pair to split,
		// and neither mapped set cuts into the other's insertions.
		doc := strings.Repeat("a", a.LenBefore())
		docX, errX := x.Apply(doc)
		docY, errY := y.Apply(doc)
		if errX != nil || errY != nil || docX != docY {
			t.Fatalf("peers diverge for %s and %s: %q, %v vs %q, %v", dataA, dataB, docX, errX, docY, errY)
		}
	})
}

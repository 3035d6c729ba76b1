package changeset

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

// The expected values in these tables are what @codemirror/state 6.x
// returns for the same inputs.

func TestMap(t *testing.T) {
	tests := []struct {
		name, changes, other string
		want, wantBefore     string
	}{
		{name: "insertions at the same place", changes: `[[0,"a"],3]`, other: `[[0,"b"],3]`,
			want: `[1,[0,"a"],3]`, wantBefore: `[[0,"a"],4]`},
		{name: "replaced range deleted", changes: `[1,[1,"x"],1]`, other: `[[3]]`,
			want: `[[0,"x"]]`, wantBefore: `[[0,"x"]]`},
		{name: "insertion after a replaced end", changes: `[3,[0,"x"]]`, other: `[[3,"y"]]`,
			want: `[1,[0,"x"]]`, wantBefore: `[1,[0,"x"]]`},
		{name: "deletions that overlap", changes: `[[1],2]`, other: `[1,[1],1]`,
			want: `[[1],1]`, wantBefore: `[[1],1]`},
		{name: "astral insertion moved", changes: `[2,[0,"😀"],1]`, other: `[1,[2,"q","r"]]`,
			want: `[4,[0,"😀"]]`, wantBefore: `[4,[0,"😀"]]`},
		{name: "replacement around an insertion", changes: `[[3,"ab"]]`, other: `[1,[0,"z"],2]`,
			want: `[[1,"ab"],1,[2]]`, wantBefore: `[[1,"ab"],1,[2]]`},
		{name: "over nothing", changes: `[1,[1,"x"]]`, other: `[2]`,
			want: `[1,[1,"x"]]`, wantBefore: `[1,[1,"x"]]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, other := mustParse(t, tt.changes), mustParse(t, tt.other)
			if got := mustJSON(t, c.Map(other, false)); got != tt.want {
				t.Errorf("Map(%s, %s, false) = %s; want %s", tt.changes, tt.other, got, tt.want)
			}
			if got := mustJSON(t, c.Map(other, true)); got != tt.wantBefore {
				t.Errorf("Map(%s, %s, true) = %s; want %s", tt.changes, tt.other, got, tt.wantBefore)
			}
		})
	}
}

func TestCompose(t *testing.T) {
	tests := []struct {
		name, changes, next, want string
	}{
		{name: "low half of an inserted pair deleted", changes: `[[0,"😀"]]`, next: `[[1],1]`, want: `[[0,"\ude00"]]`},
		{name: "high half of an inserted pair deleted", changes: `[[0,"😀"]]`, next: `[1,[1]]`, want: `[[0,"\ud83d"]]`},
		{name: "edit inside an insertion", changes: `[[0,"abc"]]`, next: `[1,[1,"X"],1]`, want: `[[0,"aXc"]]`},
		{name: "deletion then replacement", changes: `[[2],1]`, next: `[[1,"x"]]`, want: `[[2],[1,"x"]]`},
		{name: "insertion kept apart from a deletion", changes: `[1,[0,"a"],1]`, next: `[[1],2]`, want: `[[1],[0,"a"],1]`},
		{name: "line break deleted", changes: `[[3,"ab","c"]]`, next: `[2,[2]]`, want: `[[3,"ab"]]`},
		{name: "insertion after a replacement", changes: `[[1,"x"],1]`, next: `[1,[0,"y"],1]`, want: `[[1,"x"],[0,"y"],1]`},
		{name: "with nothing first", changes: `[2]`, next: `[[2,"x"]]`, want: `[[2,"x"]]`},
		{name: "with nothing second", changes: `[[2,"x"]]`, next: `[1]`, want: `[[2,"x"]]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustJSON(t, mustParse(t, tt.changes).Compose(mustParse(t, tt.next)))
			if got != tt.want {
				t.Errorf("Compose(%s, %s) = %s; want %s", tt.changes, tt.next, got, tt.want)
			}
		})
	}
}

func TestComposedLoneSurrogateIsNotApplied(t *testing.T) {
	c := mustParse(t, `[[0,"😀"]]`).Compose(mustParse(t, `[[1],1]`))
	if _, err := c.Apply(""); !errors.Is(err, ErrLoneSurrogate) {
		t.Errorf("Apply of an insertion of a lone low surrogate: %v; want ErrLoneSurrogate", err)
	}
	// The JSON is CodeMirror's, but this package refuses to read it back.
	if _, err := Parse([]byte(mustJSON(t, c))); !errors.Is(err, ErrLoneSurrogate) {
		t.Errorf("Parse of a lone surrogate: %v; want ErrLoneSurrogate", err)
	}
}

func TestMismatchedLengthsPanic(t *testing.T) {
	a, b := mustParse(t, `[3]`), mustParse(t, `[[2,"x"]]`)
	for name, f := range map[string]func(){
		"Map":     func() { a.Map(b, false) },
		"Compose": func() { a.Compose(b) },
	} {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(r.(string), "length") {
					t.Errorf("%s of mismatched lengths: recovered %v; want a panic about lengths", name, r)
				}
			}()
			f()
		}()
	}
}

// TestRebaseConverges checks, without node, the property collab relies on:
// two peers that each apply their own change and then the other's, mapped,
// reach the same document. It also checks that every Map and Compose result
// is canonical (Parse reads its JSON back unchanged) and that Compose
// equals applying one set after the other.
func TestRebaseConverges(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	const cases = 20000
	checked := 0
	for i := range cases {
		doc := randDoc(r)
		a := mustParse(t, string(randChangesJSON(r, UTF16Len(doc))))
		b := mustParse(t, string(randChangesJSON(r, UTF16Len(doc))))

		aThenB := a.Compose(b.Map(a, false))
		bThenA := b.Compose(a.Map(b, true))
		for _, c := range []ChangeSet{a.Map(b, false), a.Map(b, true), b.Map(a, false), aThenB, bThenA} {
			assertCanonical(t, c)
		}
		if aThenB.LenBefore() != UTF16Len(doc) || aThenB.LenAfter() != bThenA.LenAfter() {
			t.Fatalf("case %d: lengths %v / %v on doc %q", i, aThenB, bThenA, doc)
		}
		got1, err1 := aThenB.Apply(doc)
		got2, err2 := bThenA.Apply(doc)
		if err1 != nil || err2 != nil {
			continue // a split pair; the differential test covers these
		}
		checked++
		if got1 != got2 {
			t.Fatalf("case %d: peers diverge on %q with a=%s b=%s: %q vs %q",
				i, doc, mustJSON(t, a), mustJSON(t, b), got1, got2)
		}
		afterA, err := a.Apply(doc)
		if err != nil {
			continue
		}
		stepwise, err := b.Map(a, false).Apply(afterA)
		if err == nil && stepwise != got1 {
			t.Fatalf("case %d: Compose then Apply = %q; Apply twice = %q", i, got1, stepwise)
		}
	}
	t.Logf("%d of %d random pairs converge to a well-formed document", checked, cases)
}

// assertCanonical fails unless Parse reads c's JSON back to the same JSON.
// A text holding an unpaired surrogate is the one thing Parse may refuse.
func assertCanonical(t *testing.T, c ChangeSet) {
	t.Helper()
	data := mustJSON(t, c)
	back, err := Parse([]byte(data))
	if errors.Is(err, ErrLoneSurrogate) {
		return
	}
	if err != nil {
		t.Fatalf("Parse(%s) of a computed set (%v): %v", data, c, err)
	}
	if again := mustJSON(t, back); again != data {
		t.Fatalf("round trip %s -> %s", data, again)
	}
}

func mustParse(t testing.TB, s string) ChangeSet {
	t.Helper()
	c, err := Parse([]byte(s))
	if err != nil {
		t.Fatalf("Parse(%s): %v", s, err)
	}
	return c
}

func mustJSON(t testing.TB, c ChangeSet) string {
	t.Helper()
	data, err := c.MarshalJSON()
	if err != nil {
		t.Fatalf("MarshalJSON(%v): %v", c, err)
	}
	return string(data)
}

package store

import (
	"reflect"
	"testing"
	"time"
)

// TestEpochMovesRecordTheirLineage: every move to a new epoch (a restore
// from a checkpoint, BumpEpoch, a pull above the version) records which
// earlier epochs the new one's text holds and up to which version, newest
// first and at most maxLineage pairs, and every read that returns a field
// snapshot (Snapshot, a pull's reset) returns it.
func TestEpochMovesRecordTheirLineage(t *testing.T) {
	s, ctx := newStore(t, DefaultOptions())
	type step struct {
		name string
		do   func(t *testing.T, room string, f Field) Field // returns the field after the step
		want func(before Field, prev []Lineage) []Lineage
	}
	bump := step{"bump", func(t *testing.T, room string, f Field) Field {
		t.Helper()
		if _, err := s.BumpEpoch(ctx, room, "f", f.Epoch); err != nil {
			t.Fatal(err)
		}
		return field(t, s, room)
	}, func(before Field, prev []Lineage) []Lineage {
		return capLineage(append([]Lineage{{before.Epoch, before.Version}}, prev...))
	}}
	restoreOther := step{"restore of another epoch's checkpoint", func(t *testing.T, room string, f Field) Field {
		t.Helper()
		res, err := s.RestoreField(ctx, room, "f", "ck", f.Version+2, f.Text+"yy", NewEpoch(), []byte("r"))
		if err != nil || res.Status != RestoreOK {
			t.Fatalf("restore: %+v %v", res, err)
		}
		return field(t, s, room)
	}, func(before Field, _ []Lineage) []Lineage {
		return []Lineage{{"ck", before.Version + 2}}
	}}
	restoreOwn := step{"restore of the field's own epoch", func(t *testing.T, room string, f Field) Field {
		t.Helper()
		res, err := s.RestoreField(ctx, room, "f", f.Epoch, f.Version+1, f.Text+"z", NewEpoch(), []byte("r"))
		if err != nil || res.Status != RestoreOK {
			t.Fatalf("restore: %+v %v", res, err)
		}
		return field(t, s, room)
	}, func(before Field, prev []Lineage) []Lineage {
		return capLineage(append([]Lineage{{before.Epoch, before.Version + 1}}, prev...))
	}}
	pullAbove := step{"pull above the version", func(t *testing.T, room string, f Field) Field {
		t.Helper()
		p, err := s.Pull(ctx, room, "f", f.Epoch, f.Version+5)
		if err != nil || !p.Rollback || !p.Reset {
			t.Fatalf("pull above: %+v %v", p, err)
		}
		return p.Field
	}, bump.want}
	push := step{"push", func(t *testing.T, room string, f Field) Field {
		t.Helper()
		return pushN(t, s, ctx, room, "f", 1)
	}, func(_ Field, prev []Lineage) []Lineage { return prev }}

	many := []step{push}
	for i := 0; i < maxLineage+3; i++ {
		many = append(many, bump, push)
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"restore then bump", []step{push, restoreOther, bump}},
		{"bump, push, bump", []step{push, bump, push, bump}},
		{"restore within the epoch keeps its lineage", []step{push, bump, restoreOwn}},
		{"restore of another epoch starts over", []step{push, bump, bump, restoreOther}},
		{"pull above moves like a bump", []step{push, restoreOther, push, pullAbove}},
		{"at most maxLineage pairs", many},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			room := "lin" + string(rune('a'+i))
			if err := s.CreateRoom(ctx, room, "checkin", "self", time.Now(), []byte(`{}`), []byte(`{}`), []string{"f"}); err != nil {
				t.Fatal(err)
			}
			f := field(t, s, room)
			if f.From != "" {
				t.Fatalf("a new field has lineage %q", f.From)
			}
			var want []Lineage
			for _, st := range tc.steps {
				before := f
				f = st.do(t, room, f)
				want = st.want(before, want)
				if got := f.Lineage(); !reflect.DeepEqual(got, want) {
					t.Fatalf("after %s: lineage %v, want %v", st.name, got, want)
				}
			}
			if len(want) > maxLineage {
				t.Fatalf("the test kept %d pairs", len(want))
			}
			// A pull from an older epoch is answered with a reset that
			// carries the lineage too.
			p, err := s.Pull(ctx, room, "f", "old", 0)
			if err != nil || !p.Reset || p.Field.From != f.From || p.Field.Text != f.Text {
				t.Fatalf("pull's reset: %+v %v, want lineage %q", p, err, f.From)
			}
		})
	}
}

func TestParseLineageSkipsMalformedPairs(t *testing.T) {
	cases := []struct {
		in   string
		want []Lineage
	}{
		{"", nil},
		{"a:1", []Lineage{{"a", 1}}},
		{"a:1 b:2", []Lineage{{"a", 1}, {"b", 2}}},
		{"a:x :3 b c:-1 d:4", []Lineage{{"d", 4}}},
		{"a:b:5", []Lineage{{"a:b", 5}}},
		{"a:1 b:1 c:1 d:1 e:1 f:1 g:1 h:1 i:1", []Lineage{{"a", 1}, {"b", 1}, {"c", 1}, {"d", 1}, {"e", 1}, {"f", 1}, {"g", 1}, {"h", 1}}},
	}
	for _, tc := range cases {
		if got := parseLineage(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseLineage(%q) = %v, want %v", tc.in, got, tc.want)
		}
		if tc.want != nil && len(tc.want) < maxLineage {
			if got := parseLineage(LineageOf(tc.want...)); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("LineageOf does not round-trip %v: %v", tc.want, got)
			}
		}
	}
}

func field(t *testing.T, s *Store, room string) Field {
	t.Helper()
	snap, err := s.Snapshot(t.Context(), room, []string{"f"})
	if err != nil {
		t.Fatal(err)
	}
	if snap.Heads["f"].From != snap.Fields["f"].From {
		t.Fatalf("head and field disagree on lineage: %q, %q", snap.Heads["f"].From, snap.Fields["f"].From)
	}
	return snap.Fields["f"]
}

func capLineage(ls []Lineage) []Lineage {
	if len(ls) > maxLineage {
		return ls[:maxLineage]
	}
	return ls
}

// FuzzParseLineage: whatever a field's stored 'from' holds, parseLineage
// never panics, keeps at most maxLineage pairs with versions ≥ 0, and what
// it returns encodes and parses back to itself.
func FuzzParseLineage(f *testing.F) {
	for _, s := range []string{"", "a:1", "a:1 b:2", "a:x :3 b c:-1 d:4", "a:b:5", "e:9223372036854775807 f:9223372036854775808", " \t a:1\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ls := parseLineage(s)
		if len(ls) > maxLineage {
			t.Fatalf("%d pairs from %q", len(ls), s)
		}
		for _, l := range ls {
			if l.Version < 0 || l.Epoch == "" {
				t.Fatalf("bad pair %+v from %q", l, s)
			}
		}
		if back := parseLineage(LineageOf(ls...)); !reflect.DeepEqual(back, ls) {
			t.Fatalf("%q: %v encodes to %q, which parses to %v", s, ls, LineageOf(ls...), back)
		}
	})
}

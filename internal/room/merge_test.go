package room

import (
	"encoding/json"
	"testing"
)

// TestMergeViewPutsBackWhatOnlyThePresenterCouldRead: a room restored
// from one seat's view (base) merged with another partner's view of the
// same rev. When the merge applies, each partner's view of the result is
// exactly that partner's own view of the room before it was lost: the
// presenter's private values, break reason and hold come back, the base
// seat's view is unchanged (nothing of its own was altered, nothing of
// the other's leaks to it), and the base itself is not modified.
func TestMergeViewPutsBackWhatOnlyThePresenterCouldRead(t *testing.T) {
	tpl := testTemplate(t)
	type step struct {
		by Role
		a  Action
	}
	val := func(field, v string) Action {
		return Action{Act: ActValueSet, Field: field, Value: json.RawMessage(v)}
	}
	cases := []struct {
		name  string
		mode  Mode
		steps []step
		base  Role // whose view the room was restored from
		by    Role // the partner presenting the other view
		// want: what the merge must have put back (checked on the result)
		want func(t *testing.T, m State)
	}{
		{
			name:  "self-guided private ratings of both partners",
			mode:  SelfGuided,
			steps: []step{{PartnerA, val("screen_a", `"yes"`)}, {PartnerB, val("rate_b", "2")}},
			base:  PartnerA, by: PartnerB,
			want: func(t *testing.T, m State) {
				if string(m.Values["rate_b"]) != "2" || string(m.Values["screen_a"]) != `"yes"` || m.Answered != nil {
					t.Errorf("values %s, answered %v", mustMarshal(t, m.Values), m.Answered)
				}
			},
		},
		{
			name:  "self-guided, restored from partner_b, partner_a's safety answer and hold",
			mode:  SelfGuided,
			steps: []step{{PartnerB, val("rate_b", "4")}, {PartnerA, val("screen_a", `"no"`)}},
			base:  PartnerB, by: PartnerA,
			want: func(t *testing.T, m State) {
				if string(m.Values["screen_a"]) != `"no"` || m.Hold == nil || m.Hold.By != PartnerA || m.Hold.Field != "screen_a" {
					t.Errorf("values %s, hold %+v", mustMarshal(t, m.Values), m.Hold)
				}
			},
		},
		{
			name:  "self-guided break with an unshared reason",
			mode:  SelfGuided,
			steps: []step{{PartnerA, Action{Act: ActBreakRequest, Reason: "I feel flooded"}}},
			base:  PartnerB, by: PartnerA,
			want: func(t *testing.T, m State) {
				if m.Break == nil || m.Break.Reason != "I feel flooded" {
					t.Errorf("break %+v", m.Break)
				}
			},
		},
		{
			name:  "self-guided shared break reason: nothing to add",
			mode:  SelfGuided,
			steps: []step{{PartnerA, Action{Act: ActBreakRequest, Reason: "air", Share: true}}},
			base:  PartnerB, by: PartnerA,
			want: func(t *testing.T, m State) {
				if m.Break == nil || m.Break.Reason != "air" {
					t.Errorf("break %+v", m.Break)
				}
			},
		},
		{
			name: "guided: partner_b's rating and break request reason",
			mode: Guided,
			steps: []step{{PartnerA, val("screen_a", `"no"`)}, {PartnerB, val("rate_b", "1")},
				{PartnerB, Action{Act: ActBreakRequest, Reason: "too much", Minutes: 30}}},
			base: PartnerA, by: PartnerB,
			want: func(t *testing.T, m State) {
				if string(m.Values["rate_b"]) != "1" || m.BreakRequest == nil || m.BreakRequest.Reason != "too much" {
					t.Errorf("values %s, request %+v", mustMarshal(t, m.Values), m.BreakRequest)
				}
				if m.Alerts != nil {
					t.Errorf("a partner's view gave the merge alerts: %+v", m.Alerts)
				}
			},
		},
		{
			name:  "the same seat's view again: nothing to add",
			mode:  SelfGuided,
			steps: []step{{PartnerA, val("screen_a", `"yes"`)}, {PartnerB, val("rate_b", "2")}},
			base:  PartnerA, by: PartnerA,
			want: func(t *testing.T, m State) {
				if _, ok := m.Values["rate_b"]; ok {
					t.Errorf("partner_a's view gave partner_b's value: %s", mustMarshal(t, m.Values))
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			full := roomAt(tpl, "open")
			full.Mode = tc.mode
			for _, st := range tc.steps {
				var err error
				if full, _, err = Apply(tpl, full, st.by, st.a, testEnv()); err != nil {
					t.Fatalf("%s %s: %v", st.by, st.a.Act, err)
				}
			}
			full.Rev = 7
			base, other := View(tpl, full, tc.base), View(tpl, full, tc.by)
			before := mustMarshal(t, base)
			m, ok := MergeView(tpl, base, other, tc.by)
			if !ok {
				t.Fatal("the views of one state did not merge")
			}
			if got := mustMarshal(t, base); got != before {
				t.Errorf("the base was modified:\n%s\nwas\n%s", got, before)
			}
			tc.want(t, m)
			for _, r := range []Role{tc.base, tc.by} {
				if got, want := mustMarshal(t, View(tpl, m, r)), mustMarshal(t, View(tpl, full, r)); got != want {
					t.Errorf("%s's view of the merged state\n%s\nwant its own view\n%s", r, got, want)
				}
			}
			if tc.mode == SelfGuided && tc.base != tc.by {
				// The two partners' views hold the whole of a self-guided room.
				if got, want := mustMarshal(t, m), mustMarshal(t, full); got != want {
					t.Errorf("merged\n%s\nwant the whole state\n%s", got, want)
				}
			}
		})
	}
}

// TestMergeViewRefuses: the moderator's view is never merged (it replaces),
// nothing is merged into the moderator's complete view, and a view of
// another rev or of another state at the same rev adds nothing.
func TestMergeViewRefuses(t *testing.T) {
	tpl := testTemplate(t)
	full := roomAt(tpl, "open")
	var err error
	for _, st := range []struct {
		by Role
		a  Action
	}{
		{PartnerA, Action{Act: ActValueSet, Field: "screen_a", Value: json.RawMessage(`"no"`)}},
		{PartnerB, Action{Act: ActValueSet, Field: "rate_b", Value: json.RawMessage("3")}},
		{PartnerB, Action{Act: ActBreakRequest, Reason: "flooded"}},
	} {
		if full, _, err = Apply(tpl, full, st.by, st.a, testEnv()); err != nil {
			t.Fatal(err)
		}
	}
	full.Rev = 3
	viewA, viewB, viewM := View(tpl, full, PartnerA), View(tpl, full, PartnerB), View(tpl, full, Moderator)
	otherRev := viewB
	otherRev.Rev = 4
	elsewhere := full.Clone() // another state under the same rev (a rolled-back history)
	elsewhere.Stage = "turns"
	otherState := View(tpl, elsewhere, PartnerB)
	changed := full.Clone()
	changed.Values["rate_b"] = json.RawMessage("5")
	otherValue := View(tpl, changed, PartnerB)

	cases := []struct {
		name        string
		base, other State
		by          Role
		ok          bool
	}{
		{"the moderator's view is not merged into a partner's", viewA, viewM, Moderator, false},
		{"another rev", viewA, otherRev, PartnerB, false},
		{"another state at the same rev", viewA, otherState, PartnerB, false},
		{"an unknown role", viewA, viewB, Role("stranger"), false},
		{"a partner's view into the moderator's: nothing changes", viewM, viewB, PartnerB, true},
		{"a value the base holds differs: never overwritten", viewM, otherValue, PartnerB, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := mustMarshal(t, tc.base)
			m, ok := MergeView(tpl, tc.base, tc.other, tc.by)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if got := mustMarshal(t, tc.base); got != before {
				t.Errorf("the base was modified")
			}
			if !ok || tc.base.Alerts != nil {
				// Refused, or merged into the complete view: the result is the base.
				if got := mustMarshal(t, m); got != before {
					t.Errorf("got\n%s\nwant the base\n%s", got, before)
				}
			}
		})
	}
}

func mustMarshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCarryPrivateAcrossRevs: two partners' views of different revs after
// a wipe (one of them saw a change the other had not). The newer state
// decides all its partners could read; the older view adds only what they
// could not, and each partner's view of the result is what it was
// promised: the newer partner's view is unchanged, the other partner's
// private parts are back.
func TestCarryPrivateAcrossRevs(t *testing.T) {
	tpl := testTemplate(t)
	val := func(field, v string) Action {
		return Action{Act: ActValueSet, Field: field, Value: json.RawMessage(v)}
	}
	type step struct {
		by Role
		a  Action
	}
	cases := []struct {
		name   string
		mode   Mode
		before []step // both partners saw these (rev 7)
		after  []step // only the newer partner saw these (rev 8)
		// newer is whose view is at rev 8 (hi), older's at rev 7 (lo);
		// either may have been presented first.
		newer, older Role
		want         func(t *testing.T, m State)
	}{
		{
			name:   "the older view brings its private rating to the newer state",
			mode:   SelfGuided,
			before: []step{{PartnerA, val("screen_a", `"yes"`)}, {PartnerB, val("rate_b", "2")}},
			after:  []step{{PartnerA, val("safe_a", "4")}},
			newer:  PartnerA, older: PartnerB,
			want: func(t *testing.T, m State) {
				if string(m.Values["rate_b"]) != "2" || string(m.Values["safe_a"]) != "4" || m.Answered != nil {
					t.Errorf("values %s, answered %v", mustMarshal(t, m.Values), m.Answered)
				}
			},
		},
		{
			name:   "guided: the older partner's unshared break request reason",
			mode:   Guided,
			before: []step{{PartnerB, Action{Act: ActBreakRequest, Reason: "I need air", Minutes: 30}}},
			after:  []step{{PartnerA, val("safe_a", "1")}},
			newer:  PartnerA, older: PartnerB,
			want: func(t *testing.T, m State) {
				if m.BreakRequest == nil || m.BreakRequest.Reason != "I need air" {
					t.Errorf("request %+v", m.BreakRequest)
				}
			},
		},
		{
			name:   "partner_b newer: partner_a's safety answer comes back",
			mode:   SelfGuided,
			before: []step{{PartnerA, val("screen_a", `"unsure"`)}},
			after:  []step{{PartnerB, val("rate_b", "3")}},
			newer:  PartnerB, older: PartnerA,
			want: func(t *testing.T, m State) {
				if string(m.Values["screen_a"]) != `"unsure"` || string(m.Values["rate_b"]) != "3" {
					t.Errorf("values %s", mustMarshal(t, m.Values))
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			full := roomAt(tpl, "open")
			full.Mode = tc.mode
			var err error
			for _, st := range tc.before {
				if full, _, err = Apply(tpl, full, st.by, st.a, testEnv()); err != nil {
					t.Fatalf("%s %s: %v", st.by, st.a.Act, err)
				}
			}
			full.Rev = 7
			lo := View(tpl, full, tc.older)
			for _, st := range tc.after {
				if full, _, err = Apply(tpl, full, st.by, st.a, testEnv()); err != nil {
					t.Fatalf("%s %s: %v", st.by, st.a.Act, err)
				}
			}
			full.Rev = 8
			hi := View(tpl, full, tc.newer)
			before := mustMarshal(t, hi)
			m, ok := CarryPrivate(tpl, hi, lo, []Role{tc.newer})
			if !ok {
				t.Fatal("refused")
			}
			if got := mustMarshal(t, hi); got != before {
				t.Errorf("hi was modified")
			}
			tc.want(t, m)
			if got := mustMarshal(t, View(tpl, m, tc.newer)); got != before {
				t.Errorf("the newer partner's view changed:\n%s\nwas\n%s", got, before)
			}
			if got, want := mustMarshal(t, View(tpl, m, tc.older)), mustMarshal(t, View(tpl, full, tc.older)); got != want {
				t.Errorf("the tc.older partner's view of the result\n%s\nwant its view of the whole state\n%s", got, want)
			}
		})
	}
}

// TestCarryPrivateRefuses: only partners' views combine, of one template,
// and a value the newer state does not mark answered is not carried.
func TestCarryPrivateRefuses(t *testing.T) {
	tpl := testTemplate(t)
	full := roomAt(tpl, "open")
	full.Mode = SelfGuided
	var err error
	if full, _, err = Apply(tpl, full, PartnerB, Action{Act: ActValueSet, Field: "rate_b", Value: json.RawMessage("2")}, testEnv()); err != nil {
		t.Fatal(err)
	}
	full.Rev = 7
	lo := View(tpl, full, PartnerB)
	hi := View(tpl, full, PartnerA)
	hi.Rev = 8
	unattested := hi.Clone()
	unattested.Answered = nil // at rev 8 partner_b's rating is gone
	otherTpl := lo
	otherTpl.Template = "another"

	cases := []struct {
		name    string
		hi, lo  State
		by      []Role
		ok      bool
		carried bool
	}{
		{"carried", hi, lo, []Role{PartnerA}, true, true},
		{"the moderator is not a partner", hi, lo, []Role{Moderator}, false, false},
		{"no role", hi, lo, nil, false, false},
		{"another template", hi, otherTpl, []Role{PartnerA}, false, false},
		{"not marked answered at the newer rev", unattested, lo, []Role{PartnerA}, true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, ok := CarryPrivate(tpl, tc.hi, tc.lo, tc.by)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if _, has := m.Values["rate_b"]; has != tc.carried {
				t.Errorf("rate_b carried = %v, want %v", has, tc.carried)
			}
		})
	}
}

package room

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"repairroom/internal/templates"
)

// planRoom is a guided betrayal room at its plan stage.
func planRoom(t testing.TB) (*templates.Template, State) {
	t.Helper()
	set, err := templates.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	tpl, _ := set.Get("betrayal")
	s := New(tpl, Guided, t0)
	s.Stage = "plan"
	s.Roles = map[string]Role{"hurt": PartnerB, "involved": PartnerA}
	return tpl, s
}

func planEnv() Env {
	n := 0
	return Env{Now: now, NewID: func() string { n++; return fmt.Sprintf("n%d", n) }}
}

func TestCheckinsSetValidates(t *testing.T) {
	tpl, s := planRoom(t)
	in := func(at, title string) string { return fmt.Sprintf(`{"at":%q,"title":%q}`, at, title) }
	many := make([]string, MaxPlanEntries+1)
	for i := range many {
		many[i] = in("2025-06-01T20:00:00+02:00", "")
	}
	for _, tc := range []struct {
		name, value, code, want string
	}{
		{"one with offset", "[" + in("2025-05-12T20:00:00+02:00", "Sunday talk") + "]", "", `[{"id":"n1","at":"2025-05-12T20:00:00+02:00","title":"Sunday talk"}]`},
		{"utc kept as Z", "[" + in("2025-05-12T18:00:00Z", "") + "]", "", `[{"id":"n1","at":"2025-05-12T18:00:00Z"}]`},
		{"id kept", `[{"id":"keep-me","at":"2025-05-12T18:00:00Z"}]`, "", `[{"id":"keep-me","at":"2025-05-12T18:00:00Z"}]`},
		{"null clears", "null", "", ""},
		{"empty clears", "[]", "", ""},
		{"no offset", "[" + in("2025-05-12T20:00:00", "") + "]", CodeBadValue, "offset"},
		{"free text", "[" + in("Sunday 8 pm", "") + "]", CodeBadValue, "offset"},
		{"three years away", "[" + in("2028-06-01T20:00:00+02:00", "") + "]", CodeBadValue, "two years"},
		{"three years ago", "[" + in("2022-01-01T20:00:00+02:00", "") + "]", CodeBadValue, "two years"},
		{"too many", "[" + strings.Join(many, ",") + "]", CodeBadValue, "at most 52"},
		{"long title", "[" + in("2025-06-01T20:00:00+02:00", strings.Repeat("x", MaxPlanTitle+1)) + "]", CodeBadValue, "title"},
		{"two lines", "[" + in("2025-06-01T20:00:00+02:00", "a\nb") + "]", CodeBadValue, "one line"},
		{"same id twice", `[{"id":"a","at":"2025-05-12T18:00:00Z"},{"id":"a","at":"2025-05-13T18:00:00Z"}]`, CodeBadValue, "repeats"},
		{"bad id", `[{"id":"a b","at":"2025-05-12T18:00:00Z"}]`, CodeBadValue, "malformed id"},
		{"not a list", `{"at":"2025-05-12T18:00:00Z"}`, CodeBadValue, "list"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next, ev, err := Apply(tpl, s, PartnerA, Action{Act: ActValueSet, Field: "checkins", Value: json.RawMessage(tc.value)}, planEnv())
			if tc.code != "" {
				var e *Error
				if err == nil || !errorAs(err, &e) || e.Code != tc.code || !strings.Contains(e.Message, tc.want) {
					t.Fatalf("got %v, want %s mentioning %q", err, tc.code, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := string(next.Values["checkins"]); got != tc.want {
				t.Fatalf("stored %s, want %s", got, tc.want)
			}
			if tc.want != "" && ev.Detail["value"] == nil {
				t.Error("the event does not carry the new list")
			}
		})
	}
}

func errorAs(err error, e **Error) bool {
	x, ok := err.(*Error)
	*e = x
	return ok
}

func TestCheckinsFollowTheFieldRules(t *testing.T) {
	tpl, s := planRoom(t)
	v := json.RawMessage(`[{"at":"2025-05-12T18:00:00Z"}]`)
	for _, tc := range []struct {
		name  string
		by    Role
		setup func(*State)
		code  string
	}{
		{"partner", PartnerB, func(*State) {}, ""},
		{"moderator writes shared fields", Moderator, func(*State) {}, ""},
		{"other stage", PartnerA, func(s *State) { s.Stage = "closing" }, CodeForbidden},
		{"locked", PartnerA, func(s *State) { s.Locked = map[string]bool{"plan": true} }, CodeLocked},
		{"ended", PartnerA, func(s *State) { e := t0; s.Ended = &e }, CodeEnded},
		{"break", PartnerA, func(s *State) { s.Break = &Break{By: Moderator, Started: now, Until: now.Add(time.Hour)} }, CodeOnBreak},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := s.Clone()
			tc.setup(&st)
			_, _, err := Apply(tpl, st, tc.by, Action{Act: ActValueSet, Field: "checkins", Value: v}, planEnv())
			var e *Error
			switch {
			case tc.code == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.code != "" && (!errorAs(err, &e) || e.Code != tc.code):
				t.Fatalf("got %v, want %s", err, tc.code)
			}
		})
	}
}

func TestMilestonesReachedIsTheServers(t *testing.T) {
	tpl, s := planRoom(t)
	set := func(s State, by Role, at time.Time, v string) State {
		t.Helper()
		env := planEnv()
		env.Now = at
		next, _, err := Apply(tpl, s, by, Action{Act: ActValueSet, Field: "milestones", Value: json.RawMessage(v)}, env)
		if err != nil {
			t.Fatal(err)
		}
		return next
	}
	s = set(s, PartnerA, now, `[{"title":"One month","date":"2025-06-04"},{"title":"A weekend away"}]`)
	ms := Milestones(s, "milestones")
	if len(ms) != 2 || ms[0].ID != "n1" || ms[1].ID != "n2" || ms[0].Date != "2025-06-04" || ms[0].Reached != nil {
		t.Fatalf("milestones %+v", ms)
	}
	later := now.Add(time.Hour)
	// b marks the first one reached, sending a forged author: the server
	// records b and its own time.
	s = set(s, PartnerB, later, `[{"id":"n1","title":"One month","date":"2025-06-04","reached":{"by":"partner_a","at":"2020-01-01T00:00:00Z"}},{"id":"n2","title":"A weekend away"}]`)
	ms = Milestones(s, "milestones")
	if r := ms[0].Reached; r == nil || r.By != PartnerB || !r.At.Equal(later) {
		t.Fatalf("reached %+v", r)
	}
	// a renames it later: who and when stay.
	s = set(s, PartnerA, later.Add(time.Hour), `[{"id":"n1","title":"One month together","reached":true},{"id":"n2","title":"A weekend away"}]`)
	ms = Milestones(s, "milestones")
	if r := ms[0].Reached; r == nil || r.By != PartnerB || !r.At.Equal(later) || ms[0].Title != "One month together" || ms[0].Date != "" {
		t.Fatalf("after rename %+v", ms[0])
	}
	s = set(s, PartnerA, later, `[{"id":"n1","title":"One month together","reached":false}]`)
	if ms = Milestones(s, "milestones"); len(ms) != 1 || ms[0].Reached != nil {
		t.Fatalf("after unreach %+v", ms)
	}
	for _, bad := range []string{`[{"title":""}]`, `[{"title":"x","date":"June"}]`, `[{"title":"x","reached":"yes"}]`, `[{"title":"x","date":"2030-01-01"}]`} {
		if _, _, err := Apply(tpl, s, PartnerA, Action{Act: ActValueSet, Field: "milestones", Value: json.RawMessage(bad)}, planEnv()); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestPlanListsAreNotText(t *testing.T) {
	tpl, s := planRoom(t)
	for _, k := range TextKeys(tpl) {
		if k == "checkins" || k == "milestones" {
			t.Errorf("%s is a text key", k)
		}
	}
	if err := CanWrite(tpl, s, PartnerA, "checkins", now); err == nil {
		t.Error("a text push to a check-ins field is accepted")
	}
}

// FuzzPlanSet: any value a client sends to a check-ins or milestones field
// is either refused with an *Error or stored as a list that decodes back,
// within the limits, and that the same act accepts again unchanged.
func FuzzPlanSet(f *testing.F) {
	for _, seed := range []string{
		`[{"at":"2025-05-12T20:00:00+02:00","title":"Sunday"}]`,
		`[{"id":"a","title":"One month","date":"2025-06-04","reached":true}]`,
		`null`, `[]`, `{}`, `[1,2]`, `[{"at":"x"}]`, `[{"title":"x","reached":{"by":"moderator"}}]`,
	} {
		f.Add("checkins", seed)
		f.Add("milestones", seed)
	}
	tpl, s := planRoom(f)
	f.Fuzz(func(t *testing.T, field, value string) {
		if field != "checkins" && field != "milestones" {
			return
		}
		next, _, err := Apply(tpl, s, PartnerA, Action{Act: ActValueSet, Field: field, Value: json.RawMessage(value)}, planEnv())
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("refusal is not an *Error: %v", err)
			}
			return
		}
		stored := next.Values[field]
		if stored == nil {
			return
		}
		n := len(Checkins(next, field))
		if field == "milestones" {
			n = len(Milestones(next, field))
		}
		if n == 0 || n > MaxPlanEntries {
			t.Fatalf("stored %d entries: %s", n, stored)
		}
		again, _, err := Apply(tpl, next, PartnerA, Action{Act: ActValueSet, Field: field, Value: stored}, planEnv())
		if err != nil || string(again.Values[field]) != string(stored) {
			t.Fatalf("the stored list %s is not accepted again unchanged: %v, %s", stored, err, again.Values[field])
		}
	})
}

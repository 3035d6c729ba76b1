package export

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	ics "github.com/arran4/golang-ical"

	"repairroom/internal/room"
	"repairroom/internal/templates"
)

var t0 = time.Date(2026, 5, 4, 18, 0, 0, 0, time.UTC)

const secret = "THERAPIST-ONLY-7f3a"

// session is a guided betrayal room filled as far as the plan: roles,
// the therapist's notes, a private line, a private rating, a signed plan,
// a mirror confirmed, questions (one answered, one for later) and
// check-ins in two time zones.
func session(t *testing.T) Input {
	t.Helper()
	set, err := templates.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	tpl, _ := set.Get("betrayal")
	s := room.New(tpl, room.Guided, t0)
	s.Stage = "plan"
	s.Roles = map[string]room.Role{"hurt": room.PartnerB, "involved": room.PartnerA}
	s.Values = map[string]json.RawMessage{
		"screen_safe_a": json.RawMessage(`"Yes"`),
		"checkins":      json.RawMessage(`[{"id":"c1","at":"2026-05-10T20:00:00+02:00","title":"Sunday talk"},{"id":"c2","at":"2026-05-17T19:30:00-04:00"}]`),
		"milestones":    json.RawMessage(`[{"id":"m1","title":"One month","date":"2026-06-04","reached":{"by":"partner_b","at":"2026-06-04T10:00:00Z"}}]`),
	}
	s.Signs = map[string]map[room.Role]room.Mark{
		"plan_steps": {
			room.PartnerA: {By: room.PartnerA, At: t0.Add(time.Hour), Version: 4},
			room.PartnerB: {By: room.PartnerB, At: t0.Add(61 * time.Minute), Version: 4},
		},
		"boundaries": {room.PartnerA: {By: room.PartnerA, At: t0, Version: 1}},
	}
	s.Questions = map[string][]room.Question{"healing_questions": {
		{ID: "q1", Text: "Who knew?", Answer: "Nobody.", Status: room.QuestionAnswered, AskedAt: t0, AnsweredAt: t0.Add(time.Minute)},
		{ID: "q2", Text: "Where did you meet?", Status: room.QuestionNotNow, AskedAt: t0},
	}}
	return Input{
		RoomID: "room1", Template: tpl, State: s, Viewer: room.PartnerA,
		Texts: map[string]string{
			"notes":      "Session went well. " + secret,
			"private_b":  "b's private line",
			"plan_steps": "Each week we walk on Sunday.",
			"boundaries": "Phones stay open.",
		},
		Versions: map[string]int64{"notes": 3, "private_b": 1, "plan_steps": 4, "boundaries": 2},
		Names:    map[room.Role]string{room.PartnerA: "Alex", room.PartnerB: "Sam", room.Moderator: "Dr Lee"},
	}
}

func fieldOf(s Summary, id string) (Field, bool) {
	for _, st := range s.Stages {
		for _, f := range st.Fields {
			if f.ID == id {
				return f, true
			}
		}
	}
	return Field{}, false
}

func TestSummaryIsFilteredByRole(t *testing.T) {
	for _, tc := range []struct {
		viewer                 room.Role
		notes, privB, safeA    bool // readable
		withheldSafeA, privBIn bool
	}{
		{viewer: room.Moderator, notes: true, privB: true, safeA: true, privBIn: true},
		{viewer: room.PartnerA, safeA: true, privBIn: true},
		{viewer: room.PartnerB, privB: true, withheldSafeA: true, privBIn: true},
	} {
		t.Run(string(tc.viewer), func(t *testing.T) {
			in := session(t)
			in.Viewer = tc.viewer
			s := Build(in)
			raw, _ := json.Marshal(s)
			md := string(Markdown(s, nil))
			if has := strings.Contains(string(raw), secret) || strings.Contains(md, secret); has != tc.notes {
				t.Errorf("therapist's notes present: %v, want %v", has, tc.notes)
			}
			if _, ok := fieldOf(s, "notes"); ok != tc.notes {
				t.Errorf("notes field listed: %v", ok)
			}
			if has := strings.Contains(string(raw), "b's private line"); has != tc.privB {
				t.Errorf("b's private line present: %v, want %v", has, tc.privB)
			}
			f, _ := fieldOf(s, "screen_safe_a")
			if got := len(f.Value) > 0; got != tc.safeA {
				t.Errorf("a's safety answer readable: %v, want %v", got, tc.safeA)
			}
			if f.Withheld != tc.withheldSafeA {
				t.Errorf("a's safety answer withheld: %v, want %v", f.Withheld, tc.withheldSafeA)
			}
			// The room and the summary agree on every text key.
			for _, key := range room.TextKeys(in.Template) {
				text := in.Texts[key]
				if text == "" {
					continue
				}
				if room.CanRead(in.Template, in.State, tc.viewer, key) != strings.Contains(string(raw), text) {
					t.Errorf("%s: the summary and room.CanRead disagree", key)
				}
			}
		})
	}
}

func TestSummaryHoldsSignsMirrorsQuestionsAndPlan(t *testing.T) {
	s := Build(session(t))
	if len(s.People) != 3 || s.People[1].Name != "Sam" || s.People[1].RoleLabel == "" {
		t.Fatalf("people %+v", s.People)
	}
	plan, _ := fieldOf(s, "plan_steps")
	if !plan.SignedByBoth || len(plan.Signs) != 2 || !plan.Signs[0].Current {
		t.Fatalf("plan_steps %+v", plan)
	}
	bound, _ := fieldOf(s, "boundaries")
	if bound.SignedByBoth || len(bound.Signs) != 1 || bound.Signs[0].Current {
		t.Fatalf("boundaries %+v", bound)
	}
	md := string(Markdown(s, time.FixedZone("CEST", 2*3600)))
	for _, want := range []string{
		"# Rebuilding trust",
		"> Each week we walk on Sunday.",
		"**Signed by both.**",
		"- Alex signed — Monday 4 May 2026, 21:00 CEST (UTC+02:00)",
		"- Alex signed an earlier version",
		"- **Who knew?**\n  Nobody.",
		"Left for later:\n\n- Where did you meet?",
		"- Sunday 10 May 2026, 20:00 +0200 (UTC+02:00) — Sunday talk",
		"- [x] One month (2026-06-04) — reached, marked by Sam",
		"Sam — Partner B — ",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the Markdown lacks %q\n%s", want, md)
		}
	}
}

func TestMarkdownEscapesWords(t *testing.T) {
	in := session(t)
	in.Texts["plan_steps"] = "# not a heading\n- not a list\n<script>x</script> [link](http://x)"
	md := string(Markdown(Build(in), nil))
	for _, bad := range []string{"> # not", "> - not", "<script>", "[link](http"} {
		if strings.Contains(md, bad) {
			t.Errorf("the Markdown holds %q as markup", bad)
		}
	}
}

func TestCalendarParsesBack(t *testing.T) {
	in := session(t)
	first, err := Calendar(Build(in), t0)
	if err != nil {
		t.Fatal(err)
	}
	second, err := Calendar(Build(in), t0.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	uids := func(text string) ([]string, []time.Time, []*ics.VEvent) {
		t.Helper()
		cal, err := ics.ParseCalendar(strings.NewReader(text))
		if err != nil {
			t.Fatalf("parse: %v\n%s", err, text)
		}
		var ids []string
		var starts []time.Time
		for _, ev := range cal.Events() {
			ids = append(ids, ev.Id())
			at, err := ev.GetStartAt()
			if err != nil {
				t.Fatal(err)
			}
			starts = append(starts, at)
		}
		return ids, starts, cal.Events()
	}
	ids1, starts, evs := uids(first)
	ids2, _, _ := uids(second)
	want := []time.Time{
		time.Date(2026, 5, 10, 18, 0, 0, 0, time.UTC),
		time.Date(2026, 5, 17, 23, 30, 0, 0, time.UTC),
	}
	if len(starts) != 2 || !starts[0].Equal(want[0]) || !starts[1].Equal(want[1]) {
		t.Fatalf("starts %v, want %v", starts, want)
	}
	if strings.Join(ids1, ",") != strings.Join(ids2, ",") || ids1[0] != UID("room1", "checkins", "c1") || ids1[0] == ids1[1] {
		t.Fatalf("uids %v then %v", ids1, ids2)
	}
	desc := evs[0].GetProperty(ics.ComponentPropertyDescription)
	if desc == nil || !strings.Contains(desc.Value, "Each week we walk on Sunday.") || strings.Contains(desc.Value, "Phones stay open") {
		t.Fatalf("description %+v", desc)
	}
	if evs[0].GetProperty(ics.ComponentPropertyDtstamp) == nil {
		t.Fatal("no DTSTAMP")
	}
	if s := evs[0].GetProperty(ics.ComponentPropertySummary); s == nil || s.Value != "Sunday talk" {
		t.Fatalf("summary %+v", s)
	}
}

func TestCalendarWithoutBothSignaturesHasNoSteps(t *testing.T) {
	in := session(t)
	delete(in.State.Signs["plan_steps"], room.PartnerB)
	out, err := Calendar(Build(in), t0)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "walk on Sunday") {
		t.Fatal("a text only one partner signed is in the calendar")
	}
}

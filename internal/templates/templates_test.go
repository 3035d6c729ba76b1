package templates

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

func TestBuiltinTemplatesLoadInFileOrder(t *testing.T) {
	set, err := Builtin()
	if err != nil {
		t.Fatalf("Builtin: %v", err)
	}
	var ids []string
	for _, tpl := range set.List() {
		ids = append(ids, tpl.ID)
	}
	if want := []string{"aftermath", "betrayal", "checkin", "decide"}; !slices.Equal(ids, want) {
		t.Fatalf("List ids = %v, want %v", ids, want)
	}
	for _, id := range ids {
		if _, ok := set.Get(id); !ok {
			t.Errorf("Get(%q) not found", id)
		}
	}
	if _, ok := set.Get("nope"); ok {
		t.Error("Get(nope) found something")
	}
}

func TestBuiltinTemplatesHavePrivateNotesInFirstStage(t *testing.T) {
	set, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	for _, tpl := range set.List() {
		f, st, ok := tpl.Field("notes")
		if !ok || st.ID != tpl.Stages[0].ID || f.Owner != OwnerModerator || f.Kind != KindText || f.Label != "Private notes" {
			t.Errorf("%s: notes = %+v in stage %v, want a moderator text field in the first stage", tpl.ID, f, st)
		}
	}
}

func TestBuiltinTemplatesHaveTheFieldsTheProductNeeds(t *testing.T) {
	set, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		template, field string
		owner           Owner
		kind            Kind
		other           Owner // speaker or answerer
	}
	for _, w := range []want{
		{"betrayal", "ground_rules", OwnerBoth, KindAgreement, ""},
		{"betrayal", "safety_start_a", OwnerPartnerA, KindScale, ""},
		{"betrayal", "safety_start_b", OwnerPartnerB, KindScale, ""},
		{"betrayal", "impact", "hurt", KindText, ""},
		{"betrayal", "impact_mirror", "involved", KindMirror, "hurt"},
		{"betrayal", "apology_what", "involved", KindText, ""},
		{"betrayal", "apology_why", "involved", KindText, ""},
		{"betrayal", "apology_prevent", "involved", KindText, ""},
		{"betrayal", "healing_questions", "hurt", KindQuestions, "involved"},
		{"betrayal", "transparency", OwnerBoth, KindAgreement, ""},
		{"betrayal", "boundaries", OwnerBoth, KindAgreement, ""},
		{"betrayal", "plan_steps", OwnerBoth, KindAgreement, ""},
		{"betrayal", "checkins", OwnerBoth, KindCheckins, ""},
		{"betrayal", "milestones", OwnerBoth, KindMilestones, ""},
		{"betrayal", "safety_end_a", OwnerPartnerA, KindScale, ""},
		{"betrayal", "safety_end_b", OwnerPartnerB, KindScale, ""},
		{"betrayal", "appreciation_a", OwnerPartnerA, KindText, ""},
		{"betrayal", "appreciation_b", OwnerPartnerB, KindText, ""},
		{"aftermath", "feelings_a", OwnerPartnerA, KindChoice, ""},
		{"aftermath", "feelings_b", OwnerPartnerB, KindChoice, ""},
		{"aftermath", "reality_a", OwnerPartnerA, KindText, ""},
		{"aftermath", "reality_b", OwnerPartnerB, KindText, ""},
		{"aftermath", "summary_of_a", OwnerPartnerB, KindMirror, OwnerPartnerA},
		{"aftermath", "summary_of_b", OwnerPartnerA, KindMirror, OwnerPartnerB},
		{"aftermath", "triggers_a", OwnerPartnerA, KindText, ""},
		{"aftermath", "triggers_b", OwnerPartnerB, KindText, ""},
		{"aftermath", "contributed_a", OwnerPartnerA, KindText, ""},
		{"aftermath", "apology_a", OwnerPartnerA, KindText, ""},
		{"aftermath", "contributed_b", OwnerPartnerB, KindText, ""},
		{"aftermath", "apology_b", OwnerPartnerB, KindText, ""},
		{"aftermath", "plan_a", OwnerPartnerA, KindText, ""},
		{"aftermath", "plan_b", OwnerPartnerB, KindText, ""},
		{"aftermath", "one_thing", OwnerBoth, KindReveal, ""},
		{"checkin", "wins", OwnerBoth, KindText, ""},
		{"checkin", "appreciated", OwnerBoth, KindReveal, ""},
		{"checkin", "hard_a", OwnerPartnerA, KindText, ""},
		{"checkin", "hard_b", OwnerPartnerB, KindText, ""},
		{"checkin", "commitments", OwnerBoth, KindAgreement, ""},
		{"checkin", "next_checkin", OwnerBoth, KindText, ""},
	} {
		tpl, _ := set.Get(w.template)
		f, _, ok := tpl.Field(w.field)
		if !ok {
			t.Errorf("%s: no field %q", w.template, w.field)
			continue
		}
		other := f.Speaker + f.Answerer
		if f.Owner != w.owner || f.Kind != w.kind || other != w.other {
			t.Errorf("%s.%s: owner %q kind %q speaker/answerer %q, want %q %q %q", w.template, w.field, f.Owner, f.Kind, other, w.owner, w.kind, w.other)
		}
	}
	betrayal, _ := set.Get("betrayal")
	if len(betrayal.Roles) != 2 || betrayal.Roles[0].ID != "hurt" || betrayal.Roles[1].ID != "involved" {
		t.Errorf("betrayal roles = %+v", betrayal.Roles)
	}
	_, st, _ := betrayal.Field("impact")
	if !st.TurnTaking {
		t.Errorf("betrayal stage %q should take turns", st.ID)
	}
	feelings, _, _ := set.List()[0].Field("feelings_a")
	if !feelings.Multi || len(feelings.Options) < 15 {
		t.Errorf("feelings_a: multi %v with %d options, want a multi choice of about 20", feelings.Multi, len(feelings.Options))
	}
}

func TestApologyHintsCatchJustification(t *testing.T) {
	set, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	tpl, _ := set.Get("betrayal")
	f, _, _ := tpl.Field("apology_what")
	for _, tc := range []struct {
		text string
		want int
	}{
		{"I lied to you about where I was for three months.", 0},
		{"I lied, BUT YOU were never home.", 1},
		{"I only did it if you hadn’t been so cold", 1}, // curly apostrophe
		{"I'm sorry if you feel hurt, because you always nag", 2},
		{"", 0},
	} {
		if got := f.Hint(tc.text); len(got) != tc.want {
			t.Errorf("Hint(%q) = %q, want %d messages", tc.text, got, tc.want)
		}
	}
}

func TestForRoleDropsModeratorFieldsForPartners(t *testing.T) {
	set, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	for _, tpl := range set.List() {
		for _, role := range []string{"partner_a", "partner_b"} {
			b, err := json.Marshal(tpl.ForRole(role))
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(b), `"moderator"`) || strings.Contains(string(b), `"notes"`) {
				t.Errorf("%s.ForRole(%s) leaks a moderator field: %s", tpl.ID, role, b)
			}
			if strings.Contains(string(b), `"fields":null`) {
				t.Errorf("%s.ForRole(%s) has a null field list", tpl.ID, role)
			}
		}
		if _, _, ok := tpl.ForRole("moderator").Field("notes"); !ok {
			t.Errorf("%s.ForRole(moderator) lost the notes", tpl.ID)
		}
	}
}

func TestForRoleIsADeepCopy(t *testing.T) {
	set, _ := Builtin()
	tpl, _ := set.Get("aftermath")
	c := tpl.ForRole("partner_a")
	f, _, _ := c.Field("feelings_a")
	f.Options[0] = "changed"
	g, _, _ := c.Field("reality_a")
	g.Hints[0].Phrases[0] = "changed"
	c.Stages[0].Title = "changed"
	orig, _, _ := tpl.Field("feelings_a")
	origHint, _, _ := tpl.Field("reality_a")
	if orig.Options[0] == "changed" || origHint.Hints[0].Phrases[0] == "changed" || tpl.Stages[0].Title == "changed" {
		t.Error("changing the copy changed the original")
	}
}

func TestScaleDefaultsToZeroToTen(t *testing.T) {
	set, err := Load(fstest.MapFS{"t/s.yaml": {Data: []byte(`
id: s
title: S
stages:
  - id: one
    title: One
    fields:
      - {id: calm, label: Calm, owner: partner_a, kind: scale}
`)}}, "t")
	if err != nil {
		t.Fatal(err)
	}
	tpl, _ := set.Get("s")
	if f, _, _ := tpl.Field("calm"); f.Min != 0 || f.Max != 10 {
		t.Errorf("scale = %d..%d, want 0..10", f.Min, f.Max)
	}
}

func TestStageIndex(t *testing.T) {
	set, _ := Builtin()
	tpl, _ := set.Get("checkin")
	if tpl.StageIndex("wins") != 0 || tpl.StageIndex("next") != 3 || tpl.StageIndex("x") != -1 {
		t.Error("StageIndex is off")
	}
}

// brokenHead is a valid template head; each case appends its stages.
const brokenHead = `id: broken
title: Broken
roles:
  - {id: hurt, label: Hurt, question: "Who was hurt?"}
  - {id: involved, label: Involved, question: "Who broke it?"}
stages:
`

func TestLoadRejectsBrokenTemplates(t *testing.T) {
	for _, tc := range []struct {
		name string
		yaml string // the whole file, or stages appended to brokenHead when it starts with "  -"
		want string
	}{
		{"unknown owner", `
  - id: apology
    title: Apology
    fields:
      - {id: what_i_did, label: What, owner: hurted, kind: text}`,
			`broken.yaml: stage "apology": field "what_i_did": unknown owner "hurted"`},
		{"unknown kind", `
  - id: s1
    title: S
    fields:
      - {id: f1, label: F, owner: both, kind: essay}`,
			`broken.yaml: stage "s1": field "f1": unknown kind "essay"`},
		{"bad field id", `
  - id: s1
    title: S
    fields:
      - {id: Bad-Id, label: F, owner: both, kind: text}`,
			`stage "s1": field "Bad-Id": field id must match`},
		{"duplicate field across stages", `
  - id: s1
    title: S
    fields:
      - {id: f1, label: F, owner: both, kind: text}
  - id: s2
    title: T
    fields:
      - {id: f1, label: F, owner: both, kind: text}`,
			`stage "s2": field "f1": duplicate field id (also in stage "s1")`},
		{"duplicate stage", `
  - id: s1
    title: S
    fields:
      - {id: f1, label: F, owner: both, kind: text}
  - id: s1
    title: T
    fields:
      - {id: f2, label: F, owner: both, kind: text}`,
			`stage "s1": duplicate stage id`},
		{"empty stage", `
  - id: s1
    title: S
    fields: []`,
			`broken.yaml: stage "s1": the stage has no fields`},
		{"scale min not below max", `
  - id: s1
    title: S
    fields:
      - {id: f1, label: F, owner: partner_a, kind: scale, min: 5, max: 5}`,
			`stage "s1": field "f1": scale min 5 must be below max 5`},
		{"choice with one option", `
  - id: s1
    title: S
    fields:
      - {id: f1, label: F, owner: partner_a, kind: choice, options: [sad]}`,
			`stage "s1": field "f1": a choice needs at least two options`},
		{"mirror without speaker", `
  - id: s1
    title: S
    fields:
      - {id: f1, label: F, owner: involved, kind: mirror}`,
			`stage "s1": field "f1": the speaker is missing (mirror fields need one)`},
		{"mirror speaker is owner", `
  - id: s1
    title: S
    fields:
      - {id: f1, label: F, owner: involved, kind: mirror, speaker: involved}`,
			`field "f1": speaker must not be the owner`},
		{"mirror mixes seat and role", `
  - id: s1
    title: S
    fields:
      - {id: f1, label: F, owner: involved, kind: mirror, speaker: partner_a}`,
			`field "f1": owner "involved" and speaker "partner_a" must both be seats or both be roles`},
		{"questions without answerer", `
  - id: s1
    title: S
    fields:
      - {id: f1, label: F, owner: hurt, kind: questions}`,
			`stage "s1": field "f1": the answerer is missing (questions fields need one)`},
		{"agreement not owned by both", `
  - id: s1
    title: S
    fields:
      - {id: f1, label: F, owner: partner_a, kind: agreement}`,
			`stage "s1": field "f1": agreement fields are owned by "both", not "partner_a"`},
		{"reveal not owned by both", `
  - id: s1
    title: S
    fields:
      - {id: f1, label: F, owner: hurt, kind: reveal}`,
			`stage "s1": field "f1": reveal fields are owned by "both", not "hurt"`},
		{"moderator mirror", `
  - id: s1
    title: S
    fields:
      - {id: f1, label: F, owner: moderator, kind: mirror, speaker: partner_a}`,
			`field "f1": moderator fields are private, so they cannot be of kind mirror`},
		{"moderator questions", `
  - id: s1
    title: S
    fields:
      - {id: f1, label: F, owner: moderator, kind: questions, answerer: partner_a}`,
			`field "f1": moderator fields are private, so they cannot be of kind questions`},
		{"private field owned by both", `
  - id: s1
    title: S
    fields:
      - {id: f1, label: F, owner: both, kind: text, visibility: owner}`,
			`field "f1": a field visible to its owner only is owned by partner_a, partner_b or a template role, not "both"`},
		{"private agreement", `
  - id: s1
    title: S
    fields:
      - {id: f1, label: F, owner: both, kind: agreement, visibility: owner}`,
			`field "f1": a agreement field cannot be visible to its owner only`},
		{"unknown visibility", `
  - id: s1
    title: S
    fields:
      - {id: f1, label: F, owner: partner_a, kind: text, visibility: friends}`,
			`field "f1": unknown visibility "friends"`},
		{"anytime field everyone reads", `
  - id: s1
    title: S
    fields:
      - {id: f1, label: F, owner: partner_a, kind: text, anytime: true}`,
			`field "f1": only a text visible to its owner can be written at any time`},
		{"alert option not an option", `
  - id: s1
    title: S
    fields:
      - {id: f1, label: F, owner: partner_a, kind: choice, options: ["yes", "no"], alert: ["maybe"]}`,
			`field "f1": alert or pause option "maybe" is not one of the options`},
		{"pause on a scale", `
  - id: s1
    title: S
    fields:
      - {id: f1, label: F, owner: partner_a, kind: scale, pause: ["0"]}`,
			`field "f1": alert and pause apply only to a choice`},
		{"after a field of another stage", `
  - id: s0
    title: S0
    fields:
      - {id: m0, label: M, owner: partner_a, kind: mirror, speaker: partner_b}
  - id: s1
    title: S
    fields:
      - {id: f1, label: F, owner: partner_a, kind: mirror, speaker: partner_b, after: m0}`,
			`field "f1": after "m0" must name an earlier field of the same stage`},
		{"after a text", `
  - id: s1
    title: S
    fields:
      - {id: t0, label: T, owner: partner_a, kind: text}
      - {id: f1, label: F, owner: partner_a, kind: mirror, speaker: partner_b, after: t0}`,
			`field "f1": after "t0" must name a mirror`},
		{"options on text", `
  - id: s1
    title: S
    fields:
      - {id: f1, label: F, owner: both, kind: text, options: [a, b]}`,
			`field "f1": options and multi apply only to a choice`},
		{"hint without message", `
  - id: s1
    title: S
    fields:
      - id: f1
        label: F
        owner: both
        kind: text
        hints: [{phrases: [but you]}]`,
			`field "f1": hint 1 needs a message`},
		{"misspelt key", `
  - id: s1
    title: S
    fields:
      - {id: f1, label: F, owner: both, kind: text, ownr: both}`,
			`broken.yaml: yaml: unmarshal errors:`},
		{"three roles", `id: broken
title: Broken
roles:
  - {id: a1, label: A, question: "A?"}
  - {id: a2, label: B, question: "B?"}
  - {id: a3, label: C, question: "C?"}
stages:
  - id: s1
    title: S
    fields:
      - {id: f1, label: F, owner: both, kind: text}`,
			`broken.yaml: a template declares either no roles or exactly two, not 3`},
		{"role named like a seat", `id: broken
title: Broken
roles:
  - {id: partner_a, label: A, question: "A?"}
  - {id: other, label: B, question: "B?"}
stages:
  - id: s1
    title: S
    fields:
      - {id: f1, label: F, owner: both, kind: text}`,
			`role id "partner_a" is a reserved owner name`},
		{"no title", `id: broken
stages:
  - id: s1
    title: S
    fields:
      - {id: f1, label: F, owner: both, kind: text}`,
			`broken.yaml: template title is empty`},
		{"no stages", "id: broken\ntitle: Broken\n", `broken.yaml: the template has no stages`},
		{"not yaml", "id: [", `broken.yaml: yaml:`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := tc.yaml
			if strings.HasPrefix(src, "\n  -") {
				src = brokenHead + src[1:]
			}
			fsys := fstest.MapFS{
				"t/broken.yaml": {Data: []byte(src)},
				"t/good.yaml":   {Data: []byte("id: good\ntitle: Good\nstages:\n  - {id: s, title: S, fields: [{id: f, label: F, owner: both, kind: text}]}\n")},
			}
			_, err := Load(fsys, "t")
			if err == nil {
				t.Fatal("Load accepted a broken template")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %q\nwant it to contain %q", err, tc.want)
			}
		})
	}
}

func TestLoadRejectsDuplicateTemplateIDs(t *testing.T) {
	src := []byte("id: same\ntitle: Same\nstages:\n  - {id: s, title: S, fields: [{id: f, label: F, owner: both, kind: text}]}\n")
	_, err := Load(fstest.MapFS{"t/a.yaml": {Data: src}, "t/b.yaml": {Data: src}}, "t")
	if err == nil || !strings.Contains(err.Error(), `b.yaml: template id "same" is already used`) {
		t.Errorf("err = %v", err)
	}
}

func TestLoadRejectsAnEmptyDirectory(t *testing.T) {
	if _, err := Load(fstest.MapFS{"t/readme.txt": {Data: []byte("hi")}}, "t"); err == nil {
		t.Error("Load accepted a directory without templates")
	}
}

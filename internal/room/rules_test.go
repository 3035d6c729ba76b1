package room

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func errCode(err error) string {
	if err == nil {
		return "ok"
	}
	var e *Error
	if !errors.As(err, &e) {
		return fmt.Sprintf("not a *room.Error: %v", err)
	}
	return e.Code
}

// TestPermissions runs the rule book in permissions: every listed
// operation, in every listed room state, for each of the three roles.
func TestPermissions(t *testing.T) {
	tpl := testTemplate(t)
	seen := map[string]bool{}
	for n, line := range strings.Split(permissions, "\n") {
		cols := strings.Fields(line)
		if len(cols) == 0 || strings.HasPrefix(cols[0], "#") {
			continue
		}
		if len(cols) != 5 {
			t.Fatalf("permissions line %d: want 5 columns, got %q", n, line)
		}
		name, scen := cols[0], cols[1]
		o, ok := ops[name]
		if !ok {
			t.Fatalf("permissions line %d: unknown operation %q", n, name)
		}
		setup, ok := scenarios[scen]
		if !ok {
			t.Fatalf("permissions line %d: unknown state %q", n, scen)
		}
		seen[name], seen["state:"+scen] = true, true
		for i, by := range []Role{PartnerA, PartnerB, Moderator} {
			want := cols[2+i]
			t.Run(fmt.Sprintf("%s/%s/%s", name, scen, by), func(t *testing.T) {
				s := roomAt(tpl, o.stage)
				setup(&s)
				var err error
				if o.key != "" {
					err = CanWrite(tpl, s, by, o.key, now)
				} else {
					_, _, err = Apply(tpl, s, by, o.act, testEnv())
				}
				if got := errCode(err); got != want {
					t.Errorf("got %s (%v), want %s", got, err, want)
				}
			})
		}
	}
	for name := range ops {
		if !seen[name] {
			t.Errorf("operation %q has no line in the rule book", name)
		}
	}
	for scen := range scenarios {
		if !seen["state:"+scen] {
			t.Errorf("state %q has no line in the rule book", scen)
		}
	}
}

func TestCanWriteRejectsKeysThatAreNotTexts(t *testing.T) {
	tpl := testTemplate(t)
	s := roomAt(tpl, "open")
	for _, key := range []string{"", "nope", "safe_a", "pick", "pick.moderator", "pick.partner_c", "a_text.partner_a", "notes.partner_a", "qs"} {
		if got := errCode(CanWrite(tpl, s, PartnerA, key, now)); got != CodeUnknownField {
			t.Errorf("CanWrite(%q) = %s, want unknown_field", key, got)
		}
	}
	if got := errCode(CanWrite(tpl, s, "stranger", "a_text", now)); got != CodeForbidden {
		t.Errorf("unknown role: got %s", got)
	}
}

func TestRevealedDraftIsFrozen(t *testing.T) {
	tpl := testTemplate(t)
	s := roomAt(tpl, "open")
	next, ev, err := Apply(tpl, s, PartnerA, Action{Act: ActReveal, Field: "pick"}, testEnv())
	if err != nil {
		t.Fatal(err)
	}
	if !next.Revealed["pick.partner_a"] || next.Revealed["pick.partner_b"] || ev.Detail["key"] != "pick.partner_a" {
		t.Fatalf("revealed = %v, event %+v", next.Revealed, ev)
	}
	if got := errCode(CanWrite(tpl, next, PartnerA, "pick.partner_a", now)); got != CodeForbidden {
		t.Errorf("writing a revealed draft: %s, want forbidden", got)
	}
	if err := CanWrite(tpl, next, PartnerB, "pick.partner_b", now); err != nil {
		t.Errorf("the other draft should stay writable: %v", err)
	}
	again, ev, err := Apply(tpl, next, PartnerA, Action{Act: ActReveal, Field: "pick"}, testEnv())
	if err != nil || ev.Detail["unchanged"] != true || !again.Revealed["pick.partner_a"] {
		t.Errorf("revealing twice: %v %+v", err, ev)
	}
	env := testEnv()
	delete(env.Versions, "pick.partner_b")
	if _, _, err := Apply(tpl, s, PartnerB, Action{Act: ActReveal, Field: "pick"}, env); errCode(err) != CodeBadValue {
		t.Errorf("revealing an empty draft: %v", err)
	}
}

func TestReadersOfRevealDraftsBeforeAndAfterReveal(t *testing.T) {
	tpl := testTemplate(t)
	for _, tc := range []struct {
		mode     Mode
		revealed bool
		want     string
	}{
		{Guided, false, "partner_a moderator"},
		{Guided, true, "partner_a partner_b moderator"},
		{SelfGuided, false, "partner_a"},
		{SelfGuided, true, "partner_a partner_b"},
	} {
		s := roomAt(tpl, "open")
		s.Mode = tc.mode
		if tc.revealed {
			s.Revealed = map[string]bool{"pick.partner_a": true}
		}
		if got := roles(Readers(tpl, s, "pick.partner_a")); got != tc.want {
			t.Errorf("%s revealed=%v: readers %q, want %q", tc.mode, tc.revealed, got, tc.want)
		}
		if got := roles(Readers(tpl, s, "pick.partner_b")); strings.Contains(got, "partner_a") {
			t.Errorf("%s: partner_a reads partner_b's unrevealed draft", tc.mode)
		}
	}
}

func TestReadersOfOtherKeys(t *testing.T) {
	tpl := testTemplate(t)
	s := roomAt(tpl, "open")
	for key, want := range map[string]string{
		"notes":           "moderator",
		"mod_score":       "moderator",
		"a_text":          "partner_a partner_b moderator",
		"deal":            "partner_a partner_b moderator",
		"inv_mirror":      "partner_a partner_b moderator",
		"qs":              "partner_a partner_b moderator",
		"nope":            "",
		"notes.partner_a": "",
	} {
		if got := roles(Readers(tpl, s, key)); got != want {
			t.Errorf("Readers(%q) = %q, want %q", key, got, want)
		}
	}
	s.Mode = SelfGuided
	if got := Readers(tpl, s, "notes"); len(got) != 0 {
		t.Errorf("a self-guided room's notes have readers %v", got)
	}
}

func roles(rs []Role) string {
	var b []string
	for _, r := range rs {
		b = append(b, string(r))
	}
	return strings.Join(b, " ")
}

func TestTextKeys(t *testing.T) {
	got := strings.Join(TextKeys(testTemplate(t)), " ")
	want := "notes a_text b_text both_text deal a_mirror pick.partner_a pick.partner_b priv_a hurt_text inv_mirror inv_validate turn_both last_text"
	if got != want {
		t.Errorf("TextKeys = %q\nwant       %q", got, want)
	}
}

package export

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"repairroom/internal/room"
	"repairroom/internal/templates"
)

// Markdown renders the summary as a Markdown document: the same content as
// the summary page, with every time in loc (nil: UTC) and its zone. Words
// people wrote are escaped, so they read as text and never as markup.
func Markdown(s Summary, loc *time.Location) []byte {
	if loc == nil {
		loc = time.UTC
	}
	w := &mdWriter{s: s, loc: loc}
	w.head()
	for _, st := range s.Stages {
		if len(st.Fields) == 0 {
			continue
		}
		fmt.Fprintf(&w.b, "\n## %s\n", esc(st.Title))
		for _, f := range st.Fields {
			w.field(f)
		}
	}
	return w.b.Bytes()
}

type mdWriter struct {
	b   bytes.Buffer
	s   Summary
	loc *time.Location
}

// name is the display name of a seat, or its seat label.
func (w *mdWriter) name(r room.Role) string {
	for _, p := range w.s.People {
		if p.Role == r && p.Name != "" {
			return p.Name
		}
	}
	return seatLabel(r)
}

func seatLabel(r room.Role) string {
	switch r {
	case room.PartnerA:
		return "Partner A"
	case room.PartnerB:
		return "Partner B"
	case room.Moderator:
		return "The therapist"
	}
	return string(r)
}

// When writes a moment with its date, time and time zone, e.g.
// "Sunday 12 May 2026, 20:00 CEST (UTC+02:00)".
func When(t time.Time, loc *time.Location) string {
	t = t.In(loc)
	return t.Format("Monday 2 January 2006, 15:04 MST") + " (UTC" + t.Format("-07:00") + ")"
}

func (w *mdWriter) head() {
	s := w.s
	fmt.Fprintf(&w.b, "# %s\n\n", esc(s.Title))
	fmt.Fprintf(&w.b, "- Started: %s\n", When(s.Started, w.loc))
	if s.Ended != nil {
		fmt.Fprintf(&w.b, "- Ended: %s\n", When(*s.Ended, w.loc))
	} else {
		w.b.WriteString("- Not ended yet: this is the room as it is now.\n")
	}
	if s.Mode == room.SelfGuided {
		w.b.WriteString("- Self-guided (no therapist)\n")
	}
	if s.KeptUntil != nil {
		fmt.Fprintf(&w.b, "- The room is kept until %s; after that it is deleted.\n", When(*s.KeptUntil, w.loc))
	}
	fmt.Fprintf(&w.b, "- This copy is %s's.\n", esc(w.name(s.Viewer)))
	w.b.WriteString("\n**Who took part**\n\n")
	for _, p := range s.People {
		line := esc(w.name(p.Role)) + " — " + seatLabel(p.Role)
		if p.RoleLabel != "" {
			line += " — " + esc(p.RoleLabel)
		}
		fmt.Fprintf(&w.b, "- %s\n", line)
	}
}

func (w *mdWriter) quote(text string) {
	if strings.TrimSpace(text) == "" {
		w.b.WriteString("\n_Nothing written._\n")
		return
	}
	w.b.WriteString("\n")
	for _, line := range strings.Split(text, "\n") {
		fmt.Fprintf(&w.b, "> %s\n", esc(line))
	}
}

func (w *mdWriter) field(f Field) {
	fmt.Fprintf(&w.b, "\n### %s\n", esc(f.Label))
	var by []string
	for _, r := range f.Writers {
		by = append(by, esc(w.name(r)))
	}
	if len(by) > 0 {
		fmt.Fprintf(&w.b, "\n_By %s", strings.Join(by, " and "))
		if f.Private {
			w.b.WriteString(" — private")
		}
		w.b.WriteString("_\n")
	}
	if f.Withheld {
		w.b.WriteString("\nAnswered privately.\n")
		return
	}
	switch f.Kind {
	case templates.KindText, templates.KindAgreement, templates.KindMirror:
		if f.Text != nil {
			w.quote(*f.Text)
		}
	case templates.KindReveal:
		for _, d := range f.Drafts {
			note := ""
			if !d.Revealed {
				note = " (not revealed)"
			}
			fmt.Fprintf(&w.b, "\n**%s**%s\n", esc(w.name(d.By)), note)
			w.quote(d.Text)
		}
	case templates.KindScale, templates.KindChoice:
		w.value(f.Value)
	case templates.KindQuestions:
		w.questions(f.Questions)
	case templates.KindCheckins:
		w.checkins(f.Checkins)
	case templates.KindMilestones:
		w.milestones(f.Milestones)
	}
	if f.Kind == templates.KindAgreement {
		w.signs(f)
	}
	if m := f.Mirror; m != nil {
		switch {
		case !m.Current:
			w.b.WriteString("\nNot confirmed for the words as they ended.\n")
		case m.Status == room.MirrorYes:
			fmt.Fprintf(&w.b, "\nConfirmed by %s: \"yes, that's it\" — %s\n", esc(w.name(m.By)), When(m.At, w.loc))
		default:
			fmt.Fprintf(&w.b, "\n%s asked to try again — %s\n", esc(w.name(m.By)), When(m.At, w.loc))
		}
	}
}

func (w *mdWriter) value(v json.RawMessage) {
	if len(v) == 0 {
		w.b.WriteString("\n_No answer._\n")
		return
	}
	var many []string
	var one any
	if json.Unmarshal(v, &many) == nil {
		fmt.Fprintf(&w.b, "\n%s\n", esc(strings.Join(many, ", ")))
	} else if json.Unmarshal(v, &one) == nil {
		fmt.Fprintf(&w.b, "\n%s\n", esc(fmt.Sprint(one)))
	}
}

func (w *mdWriter) signs(f Field) {
	if f.SignedByBoth {
		w.b.WriteString("\n**Signed by both.**\n")
	} else {
		w.b.WriteString("\n**Not signed by both** for the words as they ended.\n")
	}
	for _, sg := range f.Signs {
		state := "signed"
		if !sg.Current {
			state = "signed an earlier version"
		}
		fmt.Fprintf(&w.b, "- %s %s — %s\n", esc(w.name(sg.By)), state, When(sg.At, w.loc))
	}
}

func (w *mdWriter) questions(qs []room.Question) {
	if len(qs) == 0 {
		w.b.WriteString("\n_No questions._\n")
		return
	}
	var later []room.Question
	w.b.WriteString("\n")
	for _, q := range qs {
		if q.Status == room.QuestionNotNow {
			later = append(later, q)
			continue
		}
		fmt.Fprintf(&w.b, "- **%s**\n", esc(q.Text))
		if q.Status == room.QuestionAnswered {
			fmt.Fprintf(&w.b, "  %s\n", esc(strings.ReplaceAll(q.Answer, "\n", " ")))
		} else {
			w.b.WriteString("  _Not answered yet._\n")
		}
	}
	if len(later) > 0 {
		w.b.WriteString("\nLeft for later:\n\n")
		for _, q := range later {
			fmt.Fprintf(&w.b, "- %s\n", esc(q.Text))
		}
	}
}

func (w *mdWriter) checkins(cs []room.Checkin) {
	if len(cs) == 0 {
		w.b.WriteString("\n_No check-ins planned._\n")
		return
	}
	w.b.WriteString("\n")
	for _, c := range cs {
		at, err := time.Parse(time.RFC3339, c.At)
		line := c.At
		if err == nil {
			// A check-in keeps the offset it was planned in: that is the
			// time the couple agreed on.
			line = When(at, at.Location())
		}
		if c.Title != "" {
			line += " — " + esc(c.Title)
		}
		fmt.Fprintf(&w.b, "- %s\n", line)
	}
}

func (w *mdWriter) milestones(ms []room.Milestone) {
	if len(ms) == 0 {
		w.b.WriteString("\n_No milestones yet._\n")
		return
	}
	w.b.WriteString("\n")
	for _, m := range ms {
		box := "[ ]"
		if m.Reached != nil {
			box = "[x]"
		}
		line := box + " " + esc(m.Title)
		if m.Date != "" {
			line += " (" + m.Date + ")"
		}
		if r := m.Reached; r != nil {
			line += fmt.Sprintf(" — reached, marked by %s, %s", esc(w.name(r.By)), When(r.At, w.loc))
		}
		fmt.Fprintf(&w.b, "- %s\n", line)
	}
}

// mdSpecial are the characters that could turn written words into markup.
var mdSpecial = strings.NewReplacer(
	`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`,
	"<", `\<`, ">", `\>`, "#", `\#`, "|", `\|`, "!", `\!`,
)

// esc makes people's words plain text in Markdown. A line that starts
// like a list item or a heading is escaped by its first character.
func esc(s string) string {
	s = mdSpecial.Replace(s)
	if t := strings.TrimLeft(s, " "); len(t) > 0 && strings.ContainsRune("-+=", rune(t[0])) {
		i := len(s) - len(t)
		s = s[:i] + `\` + s[i:]
	}
	return s
}

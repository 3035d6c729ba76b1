// Package templates holds the conversation templates of Repair Room: data
// files, not code. A template is an ordered list of stages; each stage has
// guidance text and fields, and each field has an owner (who writes it) and a
// kind (how it is edited and synced).
//
// The built-in templates are YAML files embedded in the binary and validated
// when they are loaded, so a broken template fails at start-up with an error
// naming the file, stage and field, never in the middle of a session.
//
// The package is pure: the only I/O is reading the file system it is given.
package templates

import (
	"slices"
	"strings"
)

// Owner says who writes a field. It is one of the fixed owners below or the
// id of a role the template declares in Template.Roles (e.g. "hurt"), which
// the room maps to a seat at the start of the session.
type Owner string

// The fixed owners.
const (
	OwnerPartnerA  Owner = "partner_a"
	OwnerPartnerB  Owner = "partner_b"
	OwnerBoth      Owner = "both"      // either partner, and the moderator
	OwnerModerator Owner = "moderator" // private: only the moderator writes or reads it
)

// Visibility says who may read a field besides those who write it.
type Visibility string

// The visibilities. The zero value is VisibleAll.
const (
	VisibleAll Visibility = "" // everyone in the room
	// VisibleOwner: the partner who owns the field and the moderator only.
	// The other partner learns that it was answered, never what (safety
	// ratings, the safety screen, the private line to the therapist).
	VisibleOwner Visibility = "owner"
)

// Kind says how a field is edited and synced.
type Kind string

// The field kinds.
const (
	KindText      Kind = "text"      // free text, co-edited live
	KindScale     Kind = "scale"     // an integer rating between Min and Max
	KindChoice    Kind = "choice"    // one of Options, or several when Multi
	KindAgreement Kind = "agreement" // shared text that each partner signs
	KindMirror    Kind = "mirror"    // the Owner restates the Speaker's words; the Speaker confirms
	KindReveal    Kind = "reveal"    // each partner drafts alone; the other sees it once revealed
	KindQuestions Kind = "questions" // the Owner queues questions; the Answerer answers them
)

// HasText reports whether fields of kind k carry collaborative text.
// A reveal field carries one text per partner rather than one shared text.
func (k Kind) HasText() bool {
	switch k {
	case KindText, KindAgreement, KindMirror, KindReveal:
		return true
	}
	return false
}

// Template is one kind of repair conversation. Templates are shared: treat a
// *Template returned by a Set as read-only and use ForRole for a copy.
type Template struct {
	ID      string `json:"id" yaml:"id"`
	Title   string `json:"title" yaml:"title"`
	Summary string `json:"summary" yaml:"summary"`
	// Roles are the asymmetric roles the room must assign to the two seats
	// before the conversation moves past its first stage (e.g. the partner
	// who was hurt and the one who broke the trust). Either none or two.
	Roles  []RoleDef `json:"roles,omitempty" yaml:"roles"`
	Stages []Stage   `json:"stages" yaml:"stages"`
}

// RoleDef declares a template role. Its ID may be used as a field Owner,
// Speaker or Answerer.
type RoleDef struct {
	ID       string `json:"id" yaml:"id"`
	Label    string `json:"label" yaml:"label"`
	Question string `json:"question" yaml:"question"` // asked when the roles are assigned
}

// Stage is one step of the conversation.
type Stage struct {
	ID       string `json:"id" yaml:"id"`
	Title    string `json:"title" yaml:"title"`
	Guidance string `json:"guidance" yaml:"guidance"`
	// TurnTaking stages have a floor: only the partner holding it may write.
	TurnTaking bool    `json:"turnTaking,omitempty" yaml:"turnTaking"`
	Fields     []Field `json:"fields" yaml:"fields"`
}

// Field is one thing the partners (or the moderator) fill in. Field ids are
// unique across the whole template, so a field id alone names it.
type Field struct {
	ID     string `json:"id" yaml:"id"`
	Label  string `json:"label" yaml:"label"`
	Prompt string `json:"prompt,omitempty" yaml:"prompt"`
	Owner  Owner  `json:"owner" yaml:"owner"`
	Kind   Kind   `json:"kind" yaml:"kind"`
	// Min and Max bound a scale; both zero in the file means 0..10.
	Min int `json:"min,omitempty" yaml:"min"`
	Max int `json:"max,omitempty" yaml:"max"`
	// Options and Multi describe a choice.
	Options []string `json:"options,omitempty" yaml:"options"`
	Multi   bool     `json:"multi,omitempty" yaml:"multi"`
	// Speaker is whose words a mirror restates: the Owner (the listener)
	// writes, the Speaker confirms "yes, that's it" or asks to try again.
	Speaker Owner `json:"speaker,omitempty" yaml:"speaker"`
	// Answerer answers the questions the Owner asks.
	Answerer Owner `json:"answerer,omitempty" yaml:"answerer"`
	// Hints are soft guidance shown while the text contains a phrase.
	Hints []Hint `json:"hints,omitempty" yaml:"hints"`
	// Visibility: "" (everyone) or "owner" (its owner and the moderator).
	Visibility Visibility `json:"visibility,omitempty" yaml:"visibility"`
	// Anytime fields can be written from every stage, during a break and
	// through a lock or the floor: a line to the therapist must never be
	// closed by the state of the conversation. Only the end closes them.
	Anytime bool `json:"anytime,omitempty" yaml:"anytime"`
	// GuidedOnly fields exist only in rooms with a moderator (a line to the
	// therapist means nothing without one).
	GuidedOnly bool `json:"guidedOnly,omitempty" yaml:"guidedOnly"`
	// Alert lists the options of a choice that alert the moderator when
	// picked (a safety screen's "no" and "not sure").
	Alert []string `json:"alert,omitempty" yaml:"alert"`
	// Pause lists the options of a choice that, in a self-guided room, pause
	// the conversation for both partners until the answer changes.
	Pause []string `json:"pause,omitempty" yaml:"pause"`
	// After names a mirror field of the same stage that its speaker must
	// have confirmed ("yes, that's it") before this field can be written:
	// Imago's mirror, then validation, then empathy.
	After string `json:"after,omitempty" yaml:"after"`
}

// Hint is soft guidance: Message is shown when the text contains any of
// Phrases, compared case-insensitively.
type Hint struct {
	Phrases []string `json:"phrases" yaml:"phrases"`
	Message string   `json:"message" yaml:"message"`
}

// IsRole reports whether o is a role the template declares.
func (t *Template) IsRole(o Owner) bool {
	return slices.ContainsFunc(t.Roles, func(r RoleDef) bool { return Owner(r.ID) == o })
}

// Field finds a field by id, with the stage it belongs to.
func (t *Template) Field(id string) (*Field, *Stage, bool) {
	for si := range t.Stages {
		st := &t.Stages[si]
		for fi := range st.Fields {
			if st.Fields[fi].ID == id {
				return &st.Fields[fi], st, true
			}
		}
	}
	return nil, nil, false
}

// StageIndex returns the position of stage id, or -1 if there is none.
func (t *Template) StageIndex(id string) int {
	return slices.IndexFunc(t.Stages, func(s Stage) bool { return s.ID == id })
}

// ForRole returns a deep copy of t as the given role may see it: for anyone
// but "moderator", every moderator-owned field is removed, so a partner never
// receives a private field, not even its id.
func (t *Template) ForRole(role string) *Template {
	c := *t
	c.Roles = slices.Clone(t.Roles)
	c.Stages = make([]Stage, len(t.Stages))
	for i, st := range t.Stages {
		fields := make([]Field, 0, len(st.Fields))
		for _, f := range st.Fields {
			if f.Owner == OwnerModerator && role != string(OwnerModerator) {
				continue
			}
			fields = append(fields, f.clone())
		}
		st.Fields = fields
		c.Stages[i] = st
	}
	return &c
}

func (f Field) clone() Field {
	f.Options = slices.Clone(f.Options)
	f.Alert = slices.Clone(f.Alert)
	f.Pause = slices.Clone(f.Pause)
	hints := make([]Hint, len(f.Hints))
	for i, h := range f.Hints {
		hints[i] = Hint{Phrases: slices.Clone(h.Phrases), Message: h.Message}
	}
	if f.Hints == nil {
		hints = nil
	}
	f.Hints = hints
	return f
}

// Hint returns the messages of the hints whose phrases occur in text,
// ignoring case and the difference between straight and curly apostrophes.
// Each message appears once, in the order the hints are declared.
func (f *Field) Hint(text string) []string {
	text = foldText(text)
	var out []string
	for _, h := range f.Hints {
		for _, p := range h.Phrases {
			if p = foldText(p); p != "" && strings.Contains(text, p) {
				if !slices.Contains(out, h.Message) {
					out = append(out, h.Message)
				}
				break
			}
		}
	}
	return out
}

var apostrophes = strings.NewReplacer("\u2019", "'", "\u2018", "'", "\u02bc", "'")

func foldText(s string) string {
	return strings.ToLower(apostrophes.Replace(s))
}

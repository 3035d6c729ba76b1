package templates

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

//go:embed builtin/*.yaml
var builtinFS embed.FS

// Set is a validated collection of templates, in a stable order (by file
// name). Its templates are shared; treat them as read-only.
type Set struct {
	list []*Template
	byID map[string]*Template
}

// Builtin loads and validates the templates embedded in the binary.
func Builtin() (*Set, error) {
	return Load(builtinFS, "builtin")
}

// Load reads every .yaml, .yml and .json file in dir of fsys as one template
// each, and validates them all. The error lists every problem found, each
// naming the file and, where it applies, the stage and field.
func Load(fsys fs.FS, dir string) (*Set, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("templates: reading %s: %w", dir, err)
	}
	set := &Set{byID: make(map[string]*Template)}
	var errs []error
	for _, e := range entries { // fs.ReadDir sorts by name
		name := e.Name()
		switch path.Ext(name) {
		case ".yaml", ".yml", ".json":
		default:
			continue
		}
		if e.IsDir() {
			continue
		}
		data, err := fs.ReadFile(fsys, path.Join(dir, name))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			continue
		}
		t, err := decode(data)
		if err != nil {
			errs = append(errs, &ValidationError{File: name, Message: err.Error()})
			continue
		}
		if problems := validate(name, t); len(problems) > 0 {
			errs = append(errs, problems...)
			continue
		}
		if prev, dup := set.byID[t.ID]; dup {
			errs = append(errs, &ValidationError{File: name, Message: fmt.Sprintf("template id %q is already used by %q", t.ID, prev.Title)})
			continue
		}
		set.byID[t.ID] = t
		set.list = append(set.list, t)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(set.list) == 0 {
		return nil, fmt.Errorf("templates: no template files in %s", dir)
	}
	return set, nil
}

// decode parses one template, rejecting keys the Template type does not
// know, so a misspelt key is an error rather than a silently missing value.
func decode(data []byte) (*Template, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var t Template
	if err := dec.Decode(&t); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("the file is empty")
		}
		return nil, err
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("the file holds more than one YAML document")
	}
	for si := range t.Stages {
		for fi := range t.Stages[si].Fields {
			f := &t.Stages[si].Fields[fi]
			if f.Kind == KindScale && f.Min == 0 && f.Max == 0 {
				f.Max = 10
			}
		}
	}
	return &t, nil
}

// Get returns the template with the given id.
func (s *Set) Get(id string) (*Template, bool) {
	t, ok := s.byID[id]
	return t, ok
}

// List returns every template, ordered by file name.
func (s *Set) List() []*Template {
	return slices.Clone(s.list)
}

// ValidationError is one problem in one template file.
type ValidationError struct {
	File    string // base name of the file, e.g. "betrayal.yaml"
	Stage   string // stage id, if the problem is inside a stage
	Field   string // field id, if the problem is about a field
	Message string
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Stage != "" {
		fmt.Fprintf(&b, ": stage %q", e.Stage)
	}
	if e.Field != "" {
		fmt.Fprintf(&b, ": field %q", e.Field)
	}
	b.WriteString(": ")
	b.WriteString(e.Message)
	return b.String()
}

// idPattern is the shape of template, role, stage and field ids: short,
// lower-case, safe in URLs, Redis keys and JSON.
var idPattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)

// validator collects the problems of one file.
type validator struct {
	file     string
	t        *Template
	problems []error
}

func (v *validator) addf(stage, field, format string, args ...any) {
	v.problems = append(v.problems, &ValidationError{File: v.file, Stage: stage, Field: field, Message: fmt.Sprintf(format, args...)})
}

func validate(file string, t *Template) []error {
	v := &validator{file: file, t: t}
	if !idPattern.MatchString(t.ID) {
		v.addf("", "", "template id %q must match %s", t.ID, idPattern)
	}
	if strings.TrimSpace(t.Title) == "" {
		v.addf("", "", "template title is empty")
	}
	v.roles()
	if len(t.Stages) == 0 {
		v.addf("", "", "the template has no stages")
	}
	stageIDs := map[string]bool{}
	fieldIDs := map[string]string{} // field id -> stage id
	for _, st := range t.Stages {
		if !idPattern.MatchString(st.ID) {
			v.addf(st.ID, "", "stage id must match %s", idPattern)
		}
		if stageIDs[st.ID] {
			v.addf(st.ID, "", "duplicate stage id")
		}
		stageIDs[st.ID] = true
		if strings.TrimSpace(st.Title) == "" {
			v.addf(st.ID, "", "stage title is empty")
		}
		if len(st.Fields) == 0 {
			v.addf(st.ID, "", "the stage has no fields")
		}
		for _, f := range st.Fields {
			if other, dup := fieldIDs[f.ID]; dup {
				v.addf(st.ID, f.ID, "duplicate field id (also in stage %q); field ids are unique across the template", other)
			}
			fieldIDs[f.ID] = st.ID
			v.field(st.ID, &f)
			v.after(&st, &f, fieldIDs)
		}
	}
	return v.problems
}

func (v *validator) roles() {
	if len(v.t.Roles) == 0 {
		return
	}
	if len(v.t.Roles) != 2 {
		v.addf("", "", "a template declares either no roles or exactly two, not %d", len(v.t.Roles))
	}
	seen := map[string]bool{}
	for _, r := range v.t.Roles {
		switch {
		case !idPattern.MatchString(r.ID):
			v.addf("", "", "role id %q must match %s", r.ID, idPattern)
		case isFixedOwner(Owner(r.ID)):
			v.addf("", "", "role id %q is a reserved owner name", r.ID)
		case seen[r.ID]:
			v.addf("", "", "duplicate role id %q", r.ID)
		}
		seen[r.ID] = true
		if strings.TrimSpace(r.Label) == "" || strings.TrimSpace(r.Question) == "" {
			v.addf("", "", "role %q needs a label and a question", r.ID)
		}
	}
}

func isFixedOwner(o Owner) bool {
	switch o {
	case OwnerPartnerA, OwnerPartnerB, OwnerBoth, OwnerModerator:
		return true
	}
	return false
}

// isOne reports whether o names exactly one partner: a seat or a role.
func (v *validator) isOne(o Owner) bool {
	return o == OwnerPartnerA || o == OwnerPartnerB || v.t.IsRole(o)
}

// pair checks that a and b name two different partners in the same terms
// (two seats or two roles), so they can never resolve to the same person.
func (v *validator) pair(stage string, f *Field, what string, other Owner) {
	switch {
	case other == "":
		v.addf(stage, f.ID, "the %s is missing (%s fields need one)", what, f.Kind)
	case !v.isOne(other):
		v.addf(stage, f.ID, "%s %q must be partner_a, partner_b or a template role", what, other)
	case !v.isOne(f.Owner):
		v.addf(stage, f.ID, "%s fields are owned by partner_a, partner_b or a template role, not %q", f.Kind, f.Owner)
	case other == f.Owner:
		v.addf(stage, f.ID, "%s must not be the owner", what)
	case v.t.IsRole(other) != v.t.IsRole(f.Owner):
		v.addf(stage, f.ID, "owner %q and %s %q must both be seats or both be roles", f.Owner, what, other)
	}
}

func (v *validator) field(stage string, f *Field) {
	if !idPattern.MatchString(f.ID) {
		v.addf(stage, f.ID, "field id must match %s", idPattern)
	}
	if strings.TrimSpace(f.Label) == "" {
		v.addf(stage, f.ID, "label is empty")
	}
	if !isFixedOwner(f.Owner) && !v.t.IsRole(f.Owner) {
		v.addf(stage, f.ID, "unknown owner %q", f.Owner)
		return
	}
	switch f.Kind {
	case KindText, KindScale, KindChoice, KindAgreement, KindMirror, KindReveal, KindQuestions:
	case KindCheckins, KindMilestones:
		v.planList(stage, f)
	default:
		v.addf(stage, f.ID, "unknown kind %q", f.Kind)
		return
	}
	if f.Owner == OwnerModerator {
		switch f.Kind {
		case KindAgreement, KindMirror, KindReveal, KindQuestions:
			v.addf(stage, f.ID, "moderator fields are private, so they cannot be of kind %s", f.Kind)
			return
		}
	}
	switch f.Kind {
	case KindScale:
		if f.Min >= f.Max {
			v.addf(stage, f.ID, "scale min %d must be below max %d", f.Min, f.Max)
		}
	case KindChoice:
		if len(f.Options) < 2 {
			v.addf(stage, f.ID, "a choice needs at least two options")
		}
		seen := map[string]bool{}
		for _, o := range f.Options {
			if strings.TrimSpace(o) == "" {
				v.addf(stage, f.ID, "empty option")
			} else if seen[o] {
				v.addf(stage, f.ID, "duplicate option %q", o)
			}
			seen[o] = true
		}
	case KindAgreement, KindReveal:
		if f.Owner != OwnerBoth {
			v.addf(stage, f.ID, "%s fields are owned by \"both\", not %q", f.Kind, f.Owner)
		}
	case KindMirror:
		v.pair(stage, f, "speaker", f.Speaker)
	case KindQuestions:
		v.pair(stage, f, "answerer", f.Answerer)
	}
	// Settings that belong to another kind are mistakes, not decoration.
	if f.Kind != KindScale && (f.Min != 0 || f.Max != 0) {
		v.addf(stage, f.ID, "min and max apply only to a scale")
	}
	if f.Kind != KindChoice && (len(f.Options) > 0 || f.Multi) {
		v.addf(stage, f.ID, "options and multi apply only to a choice")
	}
	if f.Kind != KindMirror && f.Speaker != "" {
		v.addf(stage, f.ID, "speaker applies only to a mirror")
	}
	if f.Kind != KindQuestions && f.Answerer != "" {
		v.addf(stage, f.ID, "answerer applies only to questions")
	}
	if len(f.Hints) > 0 && (f.Kind == KindScale || f.Kind == KindChoice) {
		v.addf(stage, f.ID, "hints apply only to fields with text")
	}
	v.privacy(stage, f)
	for i, h := range f.Hints {
		if strings.TrimSpace(h.Message) == "" || !slices.ContainsFunc(h.Phrases, func(p string) bool { return strings.TrimSpace(p) != "" }) {
			v.addf(stage, f.ID, "hint %d needs a message and at least one phrase", i+1)
		}
	}
}

// privacy checks the settings that keep a field private or let it alert.
func (v *validator) privacy(stage string, f *Field) {
	switch f.Visibility {
	case VisibleAll:
	case VisibleOwner:
		if !v.isOne(f.Owner) {
			v.addf(stage, f.ID, "a field visible to its owner only is owned by partner_a, partner_b or a template role, not %q", f.Owner)
		}
		switch f.Kind {
		case KindText, KindScale, KindChoice:
		default:
			v.addf(stage, f.ID, "a %s field cannot be visible to its owner only", f.Kind)
		}
	default:
		v.addf(stage, f.ID, "unknown visibility %q (use owner, or leave it out for everyone)", f.Visibility)
	}
	if f.Anytime && (f.Kind != KindText || f.Visibility != VisibleOwner) {
		v.addf(stage, f.ID, "only a text visible to its owner can be written at any time")
	}
	if (len(f.Alert) > 0 || len(f.Pause) > 0) && f.Kind != KindChoice {
		v.addf(stage, f.ID, "alert and pause apply only to a choice")
	}
	for _, o := range append(slices.Clone(f.Alert), f.Pause...) {
		if !slices.Contains(f.Options, o) {
			v.addf(stage, f.ID, "alert or pause option %q is not one of the options", o)
		}
	}
}

// after checks that a field's After names an earlier mirror of its stage.
func (v *validator) after(st *Stage, f *Field, seen map[string]string) {
	if f.After == "" {
		return
	}
	if seen[f.After] != st.ID || f.After == f.ID {
		v.addf(st.ID, f.ID, "after %q must name an earlier field of the same stage", f.After)
		return
	}
	for _, g := range st.Fields {
		if g.ID == f.After && g.Kind != KindMirror {
			v.addf(st.ID, f.ID, "after %q must name a mirror (its speaker confirms it)", f.After)
		}
	}
}

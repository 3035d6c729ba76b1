package room

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"repairroom/internal/templates"
)

// Limits of the plan lists (check-ins and milestones fields).
const (
	MaxPlanEntries = 52  // a year of weekly check-ins
	MaxPlanTitle   = 200 // characters in a check-in or milestone title
	// PlanHorizon bounds every date of a plan, either side of now: a plan
	// is for the coming months, and a date years away is a typing slip.
	// Dates already past stay valid (within the horizon) so a list can be
	// saved again after a check-in has happened.
	PlanHorizon = 2 * 365 * 24 * time.Hour
)

// Checkin is one entry of a check-ins field. At is an ISO 8601 (RFC 3339)
// date-time with its UTC offset, exactly as the person's calendar should
// show it; ID is stable for the life of the entry (calendar UIDs use it).
type Checkin struct {
	ID    string `json:"id"`
	At    string `json:"at"`
	Title string `json:"title,omitempty"`
}

// Milestone is one entry of a milestones field. Date is optional
// (YYYY-MM-DD); Reached says who marked it reached and when.
type Milestone struct {
	ID      string   `json:"id"`
	Title   string   `json:"title"`
	Date    string   `json:"date,omitempty"`
	Reached *Reached `json:"reached,omitempty"`
}

// Reached records who marked a milestone reached, and when. The server
// fills it in; a client only says reached or not.
type Reached struct {
	By Role      `json:"by"`
	At time.Time `json:"at"`
}

// Checkins returns the check-ins of field as stored in s, in order (nil
// when there are none or the value does not decode).
func Checkins(s State, field string) []Checkin {
	var out []Checkin
	if raw := s.Values[field]; len(raw) > 0 {
		_ = json.Unmarshal(raw, &out) // stored values were canonicalised by planSet
	}
	return out
}

// Milestones returns the milestones of field as stored in s, in order.
func Milestones(s State, field string) []Milestone {
	var out []Milestone
	if raw := s.Values[field]; len(raw) > 0 {
		_ = json.Unmarshal(raw, &out)
	}
	return out
}

// entryID is the shape of an entry id a client may send back: what NewID
// and the fallback produce.
var entryID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,40}$`)

// planSet replaces the whole list of a checkins or milestones field with
// a validated copy (value.set with a JSON array; null or [] clears it).
// Entries keep the ids they were given; new entries get one from Env.NewID.
func (c *change) planSet(f *templates.Field, st *templates.Stage) error {
	if err := c.field(f, st, floorApplies, f.Owner); err != nil {
		return err
	}
	var v json.RawMessage
	var err error
	if f.Kind == templates.KindCheckins {
		v, err = c.checkinsValue(f)
	} else {
		v, err = c.milestonesValue(f)
	}
	if err != nil {
		return err
	}
	c.putValue(f, v)
	return nil
}

// planEntries decodes the action's value as a list of at most
// MaxPlanEntries raw entries; nil for null or an empty list.
func (c *change) planEntries(f *templates.Field) ([]json.RawMessage, error) {
	raw := bytes.TrimSpace(c.a.Value)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fail(CodeBadValue, "%q takes a list of entries", f.ID)
	}
	if len(list) > MaxPlanEntries {
		return nil, fail(CodeBadValue, "%q holds at most %d entries", f.ID, MaxPlanEntries)
	}
	return list, nil
}

// entryID gives an entry without one a fresh id, and refuses malformed
// or repeated ids.
func (c *change) entryID(f *templates.Field, n int, id string, seen map[string]bool) (string, error) {
	if id == "" {
		if c.env.NewID != nil {
			id = c.env.NewID()
		} else {
			id = fmt.Sprintf("e%d", c.now.UnixNano()+int64(n))
		}
	}
	if !entryID.MatchString(id) {
		return "", fail(CodeBadValue, "entry %d of %q has a malformed id", n, f.ID)
	}
	if seen[id] {
		return "", fail(CodeBadValue, "entry %d of %q repeats the id %q", n, f.ID, id)
	}
	seen[id] = true
	return id, nil
}

func planTitle(f *templates.Field, n int, title string, required bool) (string, error) {
	title = strings.TrimSpace(title)
	switch {
	case title == "" && required:
		return "", fail(CodeBadValue, "entry %d of %q needs a title", n, f.ID)
	case utf8.RuneCountInString(title) > MaxPlanTitle:
		return "", fail(CodeBadValue, "entry %d of %q: keep the title under %d characters", n, f.ID, MaxPlanTitle)
	case strings.ContainsAny(title, "\n\r"):
		return "", fail(CodeBadValue, "entry %d of %q: a title is one line", n, f.ID)
	}
	return title, nil
}

// withinHorizon refuses a moment further than PlanHorizon from now.
func (c *change) withinHorizon(f *templates.Field, n int, t time.Time) error {
	if d := t.Sub(c.now); d > PlanHorizon || d < -PlanHorizon {
		return fail(CodeBadValue, "entry %d of %q: %s is more than two years away; choose a date within two years", n, f.ID, t.Format("2 January 2006"))
	}
	return nil
}

func (c *change) checkinsValue(f *templates.Field) (json.RawMessage, error) {
	list, err := c.planEntries(f)
	if err != nil || len(list) == 0 {
		return nil, err
	}
	out := make([]Checkin, 0, len(list))
	seen := map[string]bool{}
	for i, raw := range list {
		n := i + 1
		var in Checkin
		if err := json.Unmarshal(raw, &in); err != nil {
			return nil, fail(CodeBadValue, "entry %d of %q must be {at, title}", n, f.ID)
		}
		at, err := time.Parse(time.RFC3339, strings.TrimSpace(in.At))
		if err != nil {
			return nil, fail(CodeBadValue, "entry %d of %q: %q is not a date and time with its offset, like 2026-05-12T20:00:00+02:00", n, f.ID, in.At)
		}
		if err := c.withinHorizon(f, n, at); err != nil {
			return nil, err
		}
		id, err := c.entryID(f, n, in.ID, seen)
		if err != nil {
			return nil, err
		}
		title, err := planTitle(f, n, in.Title, false)
		if err != nil {
			return nil, err
		}
		// RFC 3339 keeps the offset the person chose: their calendar shows
		// the time they typed, wherever the server is.
		out = append(out, Checkin{ID: id, At: at.Format(time.RFC3339), Title: title})
	}
	return json.Marshal(out)
}

// milestoneIn is a milestone as a client sends it: Reached is true, false,
// or the object it read (any object counts as true).
type milestoneIn struct {
	ID      string          `json:"id"`
	Title   string          `json:"title"`
	Date    string          `json:"date"`
	Reached json.RawMessage `json:"reached"`
}

func (c *change) milestonesValue(f *templates.Field) (json.RawMessage, error) {
	list, err := c.planEntries(f)
	if err != nil || len(list) == 0 {
		return nil, err
	}
	prev := map[string]*Reached{}
	for _, m := range Milestones(*c.s, f.ID) {
		prev[m.ID] = m.Reached
	}
	out := make([]Milestone, 0, len(list))
	seen := map[string]bool{}
	for i, raw := range list {
		n := i + 1
		var in milestoneIn
		if err := json.Unmarshal(raw, &in); err != nil {
			return nil, fail(CodeBadValue, "entry %d of %q must be {title, date, reached}", n, f.ID)
		}
		title, err := planTitle(f, n, in.Title, true)
		if err != nil {
			return nil, err
		}
		m := Milestone{Title: title}
		if in.Date = strings.TrimSpace(in.Date); in.Date != "" {
			d, err := time.Parse(time.DateOnly, in.Date)
			if err != nil {
				return nil, fail(CodeBadValue, "entry %d of %q: %q is not a date like 2026-06-01", n, f.ID, in.Date)
			}
			if err := c.withinHorizon(f, n, d); err != nil {
				return nil, err
			}
			m.Date = d.Format(time.DateOnly)
		}
		if m.ID, err = c.entryID(f, n, in.ID, seen); err != nil {
			return nil, err
		}
		switch r := string(bytes.TrimSpace(in.Reached)); {
		case r == "" || r == "null" || r == "false":
		case r == "true" || strings.HasPrefix(r, "{"):
			// Who and when are the server's: kept from the stored entry, or
			// this act's author and time when it is newly reached.
			if p := prev[m.ID]; p != nil {
				m.Reached = p
			} else {
				m.Reached = &Reached{By: c.by, At: c.now}
			}
		default:
			return nil, fail(CodeBadValue, "entry %d of %q: reached is true or false", n, f.ID)
		}
		out = append(out, m)
	}
	return json.Marshal(out)
}

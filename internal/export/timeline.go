package export

import (
	"slices"
	"sort"
	"time"

	"repairroom/internal/room"
	"repairroom/internal/templates"
)

// The session timeline: the moderator (and, once the session has ended,
// each partner for what they may read) scrubs through the session. The
// store keeps each text's log and periodic snapshots; a Point is one
// version of a text whose time is known (a log entry, or a snapshot whose
// older entries were compacted away), and the room's events stream gives
// stage changes, the floor, breaks and sign-offs.

// Point is one known version of a text: when it was written and by whom
// (By is empty for a snapshot, which stands for many writes).
type Point struct {
	Version int64     `json:"v"`
	At      time.Time `json:"at"`
	By      room.Role `json:"by,omitempty"`
}

// MayScrub reports whether by may see the timeline of a room in state s:
// the moderator always, a partner once the session has ended.
func MayScrub(s room.State, by room.Role) bool {
	switch {
	case by == room.Moderator:
		return s.Mode == room.Guided
	case by.IsPartner():
		return s.Ended != nil
	}
	return false
}

// ReadableKeys returns the text keys of t the viewer may read in s, in
// template order: the texts the timeline shows.
func ReadableKeys(t *templates.Template, s room.State, by room.Role) []string {
	var out []string
	for _, k := range room.TextKeys(t) {
		if room.CanRead(t, s, by, k) {
			out = append(out, k)
		}
	}
	return out
}

// Events keeps the events the viewer may know of, oldest first: private
// events (about the moderator's fields) are the moderator's, and an event
// about a field is shown only to those who may read the field.
func Events(t *templates.Template, s room.State, by room.Role, evs []room.Event) []room.Event {
	out := []room.Event{}
	for _, e := range evs {
		if e.Private && by != room.Moderator {
			continue
		}
		if e.Field != "" && !room.CanRead(t, s, by, e.Field) {
			continue
		}
		out = append(out, e)
	}
	return out
}

// VersionAt returns the version of a text at moment at: that of the last
// point at or before it (0, the empty text, before the first). exact is
// false when versions after it have no known time (their log entries were
// compacted into a later snapshot): the text at moment at may then be
// newer than the one returned. points are in version order, and their
// times never go back.
func VersionAt(points []Point, at time.Time) (v int64, exact bool) {
	i := sort.Search(len(points), func(i int) bool { return points[i].At.After(at) })
	if i > 0 {
		v = points[i-1].Version
	}
	return v, i == len(points) || points[i].Version == v+1
}

// Authors counts the versions each seat wrote up to at.
func Authors(points []Point, at time.Time) map[room.Role]int {
	out := map[room.Role]int{}
	for _, p := range points {
		if p.At.After(at) {
			break
		}
		if p.By != "" {
			out[p.By]++
		}
	}
	return out
}

// Moments returns every distinct moment of the session, in order: each
// event and each point of a text. The slider steps through them.
func Moments(evs []room.Event, points map[string][]Point) []time.Time {
	var out []time.Time
	for _, e := range evs {
		out = append(out, e.At)
	}
	for _, ps := range points {
		for _, p := range ps {
			out = append(out, p.At)
		}
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return slices.CompactFunc(out, func(a, b time.Time) bool { return a.Equal(b) })
}

// Scene is the room at one moment as far as events tell: the stage, who
// held the floor, a break running, and the sign-offs made so far.
type Scene struct {
	Stage string       `json:"stage"`
	Floor room.Role    `json:"floor,omitempty"`
	Break bool         `json:"break,omitempty"`
	Ended bool         `json:"ended,omitempty"`
	Past  []room.Event `json:"past"` // the events up to the moment, oldest first
}

// SceneAt replays the viewer's events up to at, starting from the
// template's first stage.
func SceneAt(t *templates.Template, evs []room.Event, at time.Time) Scene {
	sc := Scene{Stage: t.Stages[0].ID, Past: []room.Event{}}
	var breakUntil time.Time
	for _, e := range evs {
		if e.At.After(at) {
			break
		}
		sc.Past = append(sc.Past, e)
		switch e.Act {
		case room.ActStageSet, room.ActReady:
			if e.Stage != "" && e.Stage != sc.Stage {
				sc.Stage, sc.Floor = e.Stage, ""
			}
			if e.Detail["ended"] == true {
				sc.Ended = true
			}
		case room.ActFloorGive:
			to, _ := e.Detail["to"].(string)
			sc.Floor = room.Role(to)
		case room.ActBreakStart, room.ActBreakRequest:
			if u, ok := e.Detail["until"].(string); ok {
				breakUntil, _ = time.Parse(time.RFC3339Nano, u)
			}
		case room.ActBreakEnd, room.ActBreakUndo:
			breakUntil = e.At
		case room.ActBreakBack:
			if e.Detail["ended"] == true {
				breakUntil = e.At
			}
		case room.ActSessionEnd:
			sc.Ended = true
		}
	}
	sc.Break = at.Before(breakUntil)
	return sc
}

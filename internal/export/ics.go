package export

import (
	"fmt"
	"strings"
	"time"

	ics "github.com/arran4/golang-ical"

	"repairroom/internal/templates"
)

// CheckinLength is how long a check-in's calendar event lasts.
const CheckinLength = time.Hour

// UID is the calendar UID of check-in entry of field in room: the same for
// every download, so a calendar that imports the file twice updates the
// event instead of doubling it.
func UID(roomID, field, entry string) string {
	return fmt.Sprintf("%s.%s.%s@repairroom", entry, field, roomID)
}

// Calendar returns an RFC 5545 calendar with one VEVENT per check-in the
// summary holds (so, as the viewer may read them), stamped now. Each
// event's description carries the couple's small steps: the agreements of
// the check-ins' stage signed by both for their final words (every
// agreement signed by both when that stage has none) — never a text only
// one of them wrote or signed.
func Calendar(s Summary, now time.Time) (string, error) {
	cal := ics.NewCalendarFor("Repair Room")
	cal.SetMethod(ics.MethodPublish)
	cal.SetXWRCalName(s.Title)
	for _, st := range s.Stages {
		for _, f := range st.Fields {
			if f.Kind != templates.KindCheckins {
				continue
			}
			desc := steps(s, st)
			for _, c := range f.Checkins {
				at, err := time.Parse(time.RFC3339, c.At)
				if err != nil {
					return "", fmt.Errorf("export: check-in %s of %s: %w", c.ID, f.ID, err)
				}
				ev := cal.AddEvent(UID(s.RoomID, f.ID, c.ID))
				ev.SetDtStampTime(now)
				ev.SetStartAt(at)
				ev.SetEndAt(at.Add(CheckinLength))
				title := c.Title
				if title == "" {
					title = f.Label
				}
				ev.SetSummary(title)
				if desc != "" {
					ev.SetDescription(desc)
				}
			}
		}
	}
	return cal.Serialize(), nil
}

// steps is the text of the agreements both partners signed, for the
// description of a check-in: those of stage home when it has agreements,
// else those of every stage.
func steps(s Summary, home Stage) string {
	collect := func(stages []Stage) []string {
		var out []string
		for _, st := range stages {
			for _, f := range st.Fields {
				if f.Kind == templates.KindAgreement && f.SignedByBoth && f.Text != nil && strings.TrimSpace(*f.Text) != "" {
					out = append(out, f.Label+":\n"+strings.TrimSpace(*f.Text))
				}
			}
		}
		return out
	}
	stages := s.Stages
	for _, f := range home.Fields {
		if f.Kind == templates.KindAgreement {
			stages = []Stage{home}
		}
	}
	parts := collect(stages)
	return strings.Join(parts, "\n\n")
}

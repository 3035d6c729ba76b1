package export

import (
	"testing"
	"time"

	"repairroom/internal/room"
)

func TestVersionAt(t *testing.T) {
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	// Versions 4 and 8 are snapshots (5..7 compacted away), 9 and 10 log entries.
	ps := []Point{{4, at(4), ""}, {8, at(8), ""}, {9, at(9), room.PartnerA}, {10, at(10), room.PartnerB}}
	for _, tc := range []struct {
		s     int
		v     int64
		exact bool
	}{{0, 0, false}, {4, 4, false}, {7, 4, false}, {8, 8, true}, {9, 9, true}, {60, 10, true}} {
		v, exact := VersionAt(ps, at(tc.s))
		if v != tc.v || exact != tc.exact {
			t.Errorf("at %ds: %d %v, want %d %v", tc.s, v, exact, tc.v, tc.exact)
		}
	}
	if v, exact := VersionAt([]Point{{1, at(1), room.PartnerA}}, at(0)); v != 0 || !exact {
		t.Errorf("before the first entry of a whole log: %d %v", v, exact)
	}
	if got := Authors(ps, at(9)); got[room.PartnerA] != 1 || got[room.PartnerB] != 0 {
		t.Errorf("authors %v", got)
	}
}

func TestSceneAndEventsFollowTheRoom(t *testing.T) {
	in := session(t)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	evs := []room.Event{
		{Act: room.ActStageSet, By: room.Moderator, At: at(1), Stage: "apology"},
		{Act: room.ActFloorGive, By: room.Moderator, At: at(2), Stage: "apology", Detail: map[string]any{"to": "partner_a"}},
		{Act: room.ActBreakStart, By: room.Moderator, At: at(3), Detail: map[string]any{"minutes": 20.0, "until": at(3).Add(20 * time.Minute).Format(time.RFC3339Nano)}},
		{Act: room.ActBreakEnd, By: room.Moderator, At: at(5)},
		{Act: room.ActValueSet, By: room.Moderator, At: at(6), Field: "notes", Private: true},
		{Act: room.ActValueSet, By: room.PartnerB, At: at(7), Field: "screen_safe_b"},
		{Act: room.ActSessionEnd, By: room.Moderator, At: at(8)},
	}
	for _, tc := range []struct {
		s     int
		stage string
		floor room.Role
		brk   bool
	}{{0, "start", "", false}, {2, "apology", room.PartnerA, false}, {4, "apology", room.PartnerA, true}, {5, "apology", room.PartnerA, false}} {
		sc := SceneAt(in.Template, evs, at(tc.s))
		if sc.Stage != tc.stage || sc.Floor != tc.floor || sc.Break != tc.brk {
			t.Errorf("at %ds: %+v", tc.s, sc)
		}
	}
	if !SceneAt(in.Template, evs, at(9)).Ended {
		t.Error("not ended after session.end")
	}
	// Partner A sees neither the private event nor b's private safety answer.
	if got := Events(in.Template, in.State, room.PartnerA, evs); len(got) != 5 {
		t.Errorf("partner a sees %d events: %+v", len(got), got)
	}
	if got := Events(in.Template, in.State, room.Moderator, evs); len(got) != 7 {
		t.Errorf("the moderator sees %d events", len(got))
	}
	if MayScrub(in.State, room.PartnerA) || !MayScrub(in.State, room.Moderator) {
		t.Error("who may scrub before the end")
	}
}

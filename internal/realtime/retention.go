package realtime

import (
	"context"

	"repairroom/internal/protocol"
	"repairroom/internal/room"
)

// RecordRetention writes the retention period its people chose (days; the
// store already enforces it) into the room state, as a committed change
// every socket of the room receives: each seat's signed view then carries
// it, and a room rebuilt from those views after Redis lost its data keeps
// that period (restore.go) instead of the server's default.
func (h *Hub) RecordRetention(ctx context.Context, id string, by room.Role, days int) error {
	for attempt := 0; attempt < maxAttempts; attempt++ {
		b, rev, err := h.st.State(ctx, id)
		if err != nil {
			return err
		}
		s, err := decodeState(b, rev)
		if err != nil {
			return err
		}
		if s.RetentionDays == days {
			return nil
		}
		ns := s.Clone()
		ns.RetentionDays = days
		ns.Rev = s.Rev + 1
		ev := room.Event{Act: room.ActRetentionSet, By: by, At: h.now(), Detail: map[string]any{"days": days}}
		stateJSON, evJSON := mustJSON(ns), mustJSON(ev)
		payload := encodeBus(busHeader{Kind: kindState}, mustJSON(busState{State: stateJSON, Event: evJSON}))
		ok, err := h.st.CommitState(ctx, id, s.Rev, stateJSON, evJSON, payload)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
	}
	return protocol.Errorf(protocol.CodeUnavailable, "the room is changing too fast; try again")
}

// retentionOf is the period a restored room is kept for: the one recorded
// in its state, within the server's bounds, else 0 (the default).
func (h *Hub) retentionOf(s room.State) int {
	maxDays := int(h.cfg.Limits.MaxRoomTTL.Hours() / 24)
	if s.RetentionDays < 1 || s.RetentionDays > maxDays {
		return 0
	}
	return s.RetentionDays
}

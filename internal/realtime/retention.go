package realtime

import (
	"context"

	"repairroom/internal/room"
	"repairroom/internal/store"
)

// RecordRetention writes the retention period its people chose (days; the
// store already enforces it) into the room state, as a committed change
// every socket of the room receives: each seat's signed view then carries
// it, and a room rebuilt from those views after Redis lost its data keeps
// that period (restore.go) instead of the server's default.
func (h *Hub) RecordRetention(ctx context.Context, id string, by room.Role, days int) error {
	return h.commitChange(ctx, id, nil, func(_ store.Snapshot, s room.State) (room.State, *room.Event, error) {
		if s.RetentionDays == days {
			return s, nil, nil
		}
		ns := s.Clone()
		ns.RetentionDays = days
		return ns, &room.Event{Act: room.ActRetentionSet, By: by, At: h.now(), Detail: map[string]any{"days": days}}, nil
	})
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

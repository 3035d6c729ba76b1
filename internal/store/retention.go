package store

import (
	"context"
	"fmt"
	"time"
)

// KeptUntil returns when the room's data expires if nothing is written
// before: now plus the remaining TTL of its meta key (every write refreshes
// it to the retention period). ErrNoRoom or ErrRoomLost when it has none.
func (s *Store) KeptUntil(ctx context.Context, id string, now time.Time) (time.Time, error) {
	d, err := s.rdb.PTTL(ctx, keys{id}.meta()).Result()
	if err != nil {
		return time.Time{}, fmt.Errorf("store: read retention: %w", err)
	}
	if d < 0 { // -2: no key; -1: no expiry, which a room never has
		if d == -1 {
			return time.Time{}, nil
		}
		return time.Time{}, s.missing(ctx, id)
	}
	return now.Add(d), nil
}

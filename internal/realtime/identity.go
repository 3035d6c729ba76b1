package realtime

import (
	"context"
	"fmt"

	"repairroom/internal/room"
)

// CheckStoreIdentity compares the Redis data set with the one this node
// saw before. On the first call it only remembers it. When it changed,
// every text field of every room this node serves is moved to a new epoch
// (store.BumpEpoch: same text and version, new epoch), so no version number
// is ever reused for other text, and the node's cached heads are dropped;
// clients reset on the next update, heads or pull they see. Call it after
// the node's Redis subscription was re-established, before sending heads.
func (h *Hub) CheckStoreIdentity(ctx context.Context) (changed bool, err error) {
	// The node's Store remembers the Redis identity it saw last: the
	// per-Redis marker (a random key written once) and the run id. Either
	// changing means Redis restarted (possibly from an AOF missing its last
	// second), failed over, or was wiped: versions this node's clients hold
	// may then name text Redis no longer has.
	changed, err = h.st.IdentityChanged(ctx)
	if err != nil || !changed {
		return false, err
	}
	h.mu.Lock()
	rooms := make([]*roomHub, 0, len(h.rooms))
	for _, rh := range h.rooms {
		rooms = append(rooms, rh)
	}
	h.mu.Unlock()
	ps := h.pushes()
	var firstErr error
	for _, rh := range rooms {
		rh.heads.dropAll()
		keys := room.TextKeys(rh.tpl)
		snap, err := ps.Snapshot(ctx, rh.id, keys)
		if err != nil {
			firstErr = keepFirst(firstErr, fmt.Errorf("reading room %s after a Redis change: %w", rh.id, err))
			continue
		}
		for _, k := range keys {
			if _, err := ps.BumpEpoch(ctx, rh.id, k, snap.Fields[k].Epoch); err != nil {
				firstErr = keepFirst(firstErr, fmt.Errorf("moving %s/%s to a new epoch: %w", rh.id, k, err))
			}
		}
	}
	h.log.Warn("Redis is not the data set it was (marker or run id changed): every served field moved to a new epoch", "rooms", len(rooms))
	return true, firstErr
}

func keepFirst(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

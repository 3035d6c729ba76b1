package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"repairroom/internal/protocol"
	"repairroom/internal/room"
	"repairroom/internal/store"
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
	return true, h.moveToNewEpochs(ctx)
}

// moveToNewEpochs moves every text field of every room this node serves
// to a new epoch and drops the cached heads. A room Redis no longer has
// (lost or deleted) is skipped: heads tell its sockets room_lost (they
// restore it under new epochs) or the deletion closes them.
func (h *Hub) moveToNewEpochs(ctx context.Context) error {
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
		if errors.Is(err, store.ErrNoRoom) || errors.Is(err, store.ErrRoomLost) {
			continue
		}
		if err != nil {
			firstErr = keepFirst(firstErr, fmt.Errorf("reading room %s after a Redis change: %w", rh.id, err))
			continue
		}
		epochs := make(map[string]string, len(keys))
		for _, k := range keys {
			e, err := ps.BumpEpoch(ctx, rh.id, k, snap.Fields[k].Epoch)
			if err != nil {
				firstErr = keepFirst(firstErr, fmt.Errorf("moving %s/%s to a new epoch: %w", rh.id, k, err))
				continue
			}
			epochs[k] = e
		}
		if err := h.publishHeads(ctx, rh, snap, epochs); err != nil {
			firstErr = keepFirst(firstErr, err)
		}
	}
	h.log.Warn("Redis is not the data set it was (marker or run id changed): every served field moved to a new epoch", "rooms", len(rooms), "err", firstErr)
	return firstErr
}

// publishHeads tells every socket of the room, on every node, where the
// fields moved: another node may have finished its own check (and its
// clients restored fields) before this one moved them again, and a moved
// field's idle readers elsewhere would otherwise never learn it. Each role
// gets the fields it may read.
func (h *Hub) publishHeads(ctx context.Context, rh *roomHub, snap store.Snapshot, epochs map[string]string) error {
	var s room.State
	if err := json.Unmarshal(snap.State, &s); err != nil {
		return nil // unreadable state: the local heads path reports it
	}
	for _, role := range []room.Role{room.PartnerA, room.PartnerB, room.Moderator} {
		heads := protocol.Heads{T: protocol.THeads, Fields: map[string]protocol.FieldHead{}}
		for k, e := range epochs {
			if room.CanRead(rh.tpl, s, role, k) {
				heads.Fields[k] = protocol.FieldHead{Epoch: e, Version: snap.Fields[k].Version}
			}
		}
		if len(heads.Fields) == 0 {
			continue
		}
		msg := encodeBus(busHeader{Kind: kindHeads, Aud: []string{string(role)}}, protocol.Encode(heads))
		if err := h.st.Publish(ctx, rh.id, msg); err != nil {
			return fmt.Errorf("publishing the new epochs of %s: %w", rh.id, err)
		}
	}
	return nil
}

// identityCheck runs CheckStoreIdentity once per resubscription burst
// rather than once per room: every room resubscribed in a burst waits for
// the one check that started after its resubscription was confirmed.
type identityCheck struct {
	mu      sync.Mutex
	known   bool          // the node has seen the Redis identity once
	pending bool          // a resubscription came since the last check began
	owed    bool          // the identity changed but not every field moved yet
	running chan struct{} // closed when the running check ends; nil if none
	err     error         // the result of the check that ended last
}

// resubscribed notes that a room's channel was subscribed again, so the
// next heads of any room first check the Redis identity.
func (ic *identityCheck) resubscribed() {
	ic.mu.Lock()
	ic.pending = true
	ic.mu.Unlock()
}

// rememberStoreIdentity takes the node's first look at the Redis identity
// (when a room is first joined), so that a resubscription can tell whether
// it changed. Failing is harmless: the next join tries again.
func (h *Hub) rememberStoreIdentity(ctx context.Context) {
	ic := &h.idc
	ic.mu.Lock()
	known := ic.known || ic.running != nil
	ic.mu.Unlock()
	if known {
		return
	}
	changed, err := h.st.IdentityChanged(ctx)
	if err != nil {
		h.log.Warn("reading the Redis identity failed", "err", err)
		return
	}
	ic.mu.Lock()
	ic.known = true
	if changed { // seen before by a direct CheckStoreIdentity
		ic.owed = true
	}
	ic.mu.Unlock()
}

// ensureStoreIdentity runs before heads are sent: after a resubscription
// it checks (once for the whole burst) whether Redis is still the data set
// it was, moving every served field to a new epoch when it is not, so the
// heads that follow carry the new epochs and clients reset instead of
// trusting versions Redis may have reused. An error means heads must wait:
// the heads goroutine retries with its backoff.
func (h *Hub) ensureStoreIdentity(ctx context.Context) error {
	ic := &h.idc
	for {
		ic.mu.Lock()
		if ch := ic.running; ch != nil {
			ic.mu.Unlock()
			select {
			case <-ch:
			case <-ctx.Done():
				return fmt.Errorf("waiting for the Redis identity check: %w", ctx.Err())
			}
			ic.mu.Lock()
			err := ic.err
			ic.mu.Unlock()
			if err != nil {
				return err
			}
			continue // a resubscription after that check began needs another
		}
		if !ic.pending && !ic.owed {
			ic.mu.Unlock()
			return nil
		}
		ch := make(chan struct{})
		ic.running, ic.pending = ch, false
		owed := ic.owed
		ic.mu.Unlock()

		var err error
		changed := owed
		if owed {
			err = h.moveToNewEpochs(ctx)
		} else {
			changed, err = h.CheckStoreIdentity(ctx)
		}
		ic.mu.Lock()
		ic.running, ic.err = nil, err
		ic.known = ic.known || err == nil || changed
		switch {
		case err == nil:
			ic.owed = false
		case changed:
			ic.owed = true // the store already took the new identity as seen
		default:
			ic.pending = true
		}
		ic.mu.Unlock()
		close(ch)
		return err
	}
}

func keepFirst(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

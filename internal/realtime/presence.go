package realtime

import (
	"context"
	"sync"
	"time"

	"repairroom/internal/protocol"
)

// presence is one connection's cursor as others see it. Moves are
// coalesced: at most one broadcast per interval, and the last position is
// always sent. Publishes of one connection are serialised so they cannot
// overtake each other.
type presence struct {
	mu      sync.Mutex
	cur     protocol.Member
	last    time.Time
	timer   *time.Timer
	stopped bool
	pub     sync.Mutex // held while the room publishes this record
}

func (t *presence) stop() {
	t.mu.Lock()
	t.stopped = true
	if t.timer != nil {
		t.timer.Stop()
	}
	t.mu.Unlock()
}

// record returns the current presence record with a fresh Seen.
func (t *presence) record() protocol.Member {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.cur
	m.Seen = time.Now().UnixMilli()
	return m
}

func (c *conn) presenceMoved(field *string, sel []int64) {
	t := &c.presence
	t.mu.Lock()
	if t.stopped {
		t.mu.Unlock()
		return
	}
	t.cur.Field, t.cur.Sel = field, sel
	wait := c.h.cfg.Limits.PresenceEvery - time.Since(t.last)
	if t.timer != nil {
		t.mu.Unlock() // the timer will send the latest position
		return
	}
	if wait > 0 {
		t.timer = time.AfterFunc(wait, c.flushPresence)
		t.mu.Unlock()
		return
	}
	t.last = time.Now()
	t.mu.Unlock()
	c.publishPresence()
}

func (c *conn) flushPresence() {
	t := &c.presence
	t.mu.Lock()
	t.timer = nil
	t.last = time.Now()
	stopped := t.stopped
	t.mu.Unlock()
	if !stopped {
		c.publishPresence()
	}
}

// publishPresence hands the move to the room, which stores and publishes
// the moves of its sockets together (fanout.go). Presence is best effort:
// a lost move is corrected by the next one.
func (c *conn) publishPresence() {
	c.rh.presenceQueued(c)
}

// presenceInterval is how often a room hub refreshes the Seen time of its
// connections; records older than presenceTTL are from a dead node.
const (
	presenceInterval = 30 * time.Second
	presenceTTL      = 2 * time.Minute
)

// heartbeat keeps this node's members alive in the presence hash while
// the room has local connections.
func (rh *roomHub) heartbeat() {
	select {
	case <-rh.stop: // the last local member left
		return
	default:
	}
	// A timer, not a goroutine per room waiting on a ticker: between beats
	// a room holds no stack. The next beat is set when this one is done,
	// so there is one at a time.
	defer time.AfterFunc(presenceInterval, rh.heartbeat)
	conns, _ := rh.snapshot()
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	rh.refreshSockets(sctx, conns)
	scancel()
	recs := make(map[string][]byte, len(conns))
	for _, c := range conns {
		recs[c.id] = mustJSON(c.presence.record())
	}
	if len(recs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	if err := rh.h.st.RefreshPresence(ctx, rh.id, recs); err != nil {
		rh.h.log.Warn("refreshing presence failed", "room", rh.id, "err", err)
	}
	cancel()
}

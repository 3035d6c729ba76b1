package realtime

import (
	"context"
	"fmt"
	"sync"
	"time"

	"repairroom/internal/store"
)

// Socket limits (limits.SocketsPerSeat, SocketsPerRoom, SocketsPerAddr)
// are counted across nodes in Redis (store/sockets.go) and checked before
// the upgrade, so a refusal is a plain HTTP answer a client can read.

// SocketRefused says which socket limit refused a socket.
type SocketRefused struct {
	Code    string // too_many_sockets_seat, too_many_sockets_room, too_many_sockets_address
	Message string
}

func (e *SocketRefused) Error() string { return e.Code + ": " + e.Message }

// AdmitSocket counts a new socket of p, opened from addr, against the
// socket limits. On success it sets p.SocketID and p.Addr, and Serve
// releases the socket when it ends; a socket admitted but never served
// stops counting after store.SocketTTL. A refusal is a *SocketRefused.
func (h *Hub) AdmitSocket(ctx context.Context, p *Participant, addr string) error {
	l := h.cfg.Limits
	id := newConnID()
	lim, err := h.st.AdmitSocket(ctx, p.Room, seatOf(*p), addr, id, l.SocketsPerSeat, l.SocketsPerRoom, l.SocketsPerAddr, h.now())
	if err != nil {
		return fmt.Errorf("admitting a socket: %w", err)
	}
	switch lim {
	case store.SocketLimitSeat:
		h.cfg.Observer.Refused("sockets_per_seat")
		return &SocketRefused{"too_many_sockets_seat", fmt.Sprintf("this seat already has %d connections open to the room; close one (another tab or device) and try again", l.SocketsPerSeat)}
	case store.SocketLimitRoom:
		h.cfg.Observer.Refused("sockets_per_room")
		return &SocketRefused{"too_many_sockets_room", fmt.Sprintf("the room already has %d connections open", l.SocketsPerRoom)}
	case store.SocketLimitAddr:
		h.cfg.Observer.Refused("sockets_per_addr")
		return &SocketRefused{"too_many_sockets_address", fmt.Sprintf("this network address already has %d connections open", l.SocketsPerAddr)}
	}
	p.SocketID, p.Addr = id, addr
	return nil
}

func seatOf(p Participant) string {
	if p.Seat != "" {
		return p.Seat
	}
	return p.Role
}

// releaseSocket stops counting an admitted socket.
func (h *Hub) releaseSocket(p Participant) {
	if p.SocketID == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.st.ReleaseSocket(ctx, p.Room, p.Addr, p.SocketID); err != nil {
		h.log.Warn("releasing a socket failed; it stops counting when it expires", "room", p.Room, "err", err)
	}
}

// refreshSockets keeps the admitted sockets of conns counted (from the
// room heartbeat).
func (rh *roomHub) refreshSockets(ctx context.Context, conns []*conn) {
	byAddr := map[string][]string{}
	for _, c := range conns {
		if c.p.SocketID != "" {
			byAddr[c.p.Addr] = append(byAddr[c.p.Addr], c.p.SocketID)
		}
	}
	if len(byAddr) == 0 {
		return
	}
	if err := rh.h.st.RefreshSockets(ctx, rh.id, byAddr, rh.h.now()); err != nil {
		rh.h.log.Warn("refreshing socket counts failed", "room", rh.id, "err", err)
	}
}

// The flood budget belongs to the seat, not the socket: every socket of
// one seat in one room on this node draws from one token bucket, and the
// bucket outlives its sockets, so reconnecting does not refill it. (It is
// per node: a seat with sockets on two nodes has two budgets.)

// bucket is a token bucket of client messages.
type bucket struct {
	mu     sync.Mutex
	tokens float64
	last   time.Time
	refs   int // sockets using it; guarded by seatBuckets.mu
}

func (b *bucket) take(now time.Time, rate, burst float64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tokens = min(b.tokens+now.Sub(b.last).Seconds()*rate, burst)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true
	}
	return false
}

// seatBuckets holds the buckets of the seats of this node's rooms.
type seatBuckets struct {
	mu   sync.Mutex
	m    map[string]*bucket
	next int // sweep when the map grows past this
}

// acquire returns the bucket of key, full when new.
func (sb *seatBuckets) acquire(key string, now time.Time, rate, burst float64) *bucket {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	if sb.m == nil {
		sb.m = make(map[string]*bucket)
	}
	b := sb.m[key]
	if b == nil {
		b = &bucket{tokens: burst, last: now}
		sb.m[key] = b
		if len(sb.m) > sb.next {
			sb.sweep(now, rate, burst)
			sb.next = 2*len(sb.m) + 64
		}
	}
	b.refs++
	return b
}

// release drops a socket's use of b; the bucket stays until it would be
// full again anyway.
func (sb *seatBuckets) release(b *bucket) {
	sb.mu.Lock()
	b.refs--
	sb.mu.Unlock()
}

// sweep forgets unused buckets that have refilled: a new one is the same.
func (sb *seatBuckets) sweep(now time.Time, rate, burst float64) {
	full := time.Duration(burst / rate * float64(time.Second))
	for k, b := range sb.m {
		b.mu.Lock()
		idle := now.Sub(b.last)
		b.mu.Unlock()
		if b.refs == 0 && idle >= full {
			delete(sb.m, k)
		}
	}
}

// Package realtime runs the WebSocket side of rooms: one reader and one
// writer goroutine per connection (the writer batches frames, batch.go),
// one Redis pub/sub connection per node (per shard on a cluster) carrying
// every room it serves, coalesced fan-out of updates, state, members and
// presence to the node's sockets (fanout.go), the push/pull/act handlers,
// socket limits and the seat's flood budget (sockets.go), and graceful
// shutdown.
package realtime

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"repairroom/internal/checkpoint"
	"repairroom/internal/limits"
	"repairroom/internal/protocol"
	"repairroom/internal/room"
	"repairroom/internal/store"
	"repairroom/internal/templates"
)

// Config tunes the realtime layer. Zero fields take the defaults of
// DefaultConfig; every limit a client can hit lives in Limits (one home for
// all of them, shared with the store and the HTTP API).
type Config struct {
	Limits       limits.Limits // zero fields: limits.Default()
	PingInterval time.Duration // how often the server pings
	PongWait     time.Duration // read deadline, extended by every pong or message
	WriteWait    time.Duration // deadline of one write
	ShutdownWait time.Duration // how long Shutdown waits for sockets to drain
	Observer     Observer      // told what happens, for metrics; nil: NopObserver
	// Checkpoints signs what clients are told the server holds, and checks
	// what they present to restore (restore.go); nil: nothing is signed
	// and every restore is refused.
	Checkpoints *checkpoint.Signer
}

// DefaultConfig is what the server runs with unless told otherwise.
func DefaultConfig() Config {
	return Config{
		Limits:       limits.Default(),
		PingInterval: 25 * time.Second,
		PongWait:     60 * time.Second,
		WriteWait:    10 * time.Second,
		ShutdownWait: 10 * time.Second,
		Observer:     NopObserver{},
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	pickD := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	c.Limits = c.Limits.WithDefaults()
	pickD(&c.PingInterval, d.PingInterval)
	pickD(&c.PongWait, d.PongWait)
	pickD(&c.WriteWait, d.WriteWait)
	pickD(&c.ShutdownWait, d.ShutdownWait)
	if c.Observer == nil {
		c.Observer = NopObserver{}
	}
	return c
}

// ErrShuttingDown is returned by Serve while the hub drains.
var ErrShuttingDown = errors.New("realtime: server is shutting down")

// Hub holds this node's rooms and connections.
type Hub struct {
	st      *store.Store
	ps      pushStore // the push path's store: st, or a test's wrapper (push.go)
	log     *slog.Logger
	cfg     Config
	now     func() time.Time
	wg      sync.WaitGroup // connection handlers and room goroutines
	sub     *store.Subscriber
	node    string        // this node's random name on the bus (deliver.go)
	buckets seatBuckets   // flood budgets per room and seat (sockets.go)
	idc     identityCheck // the Redis identity check after resubscriptions (identity.go)
	mu      sync.Mutex
	rooms   map[string]*roomHub
	conns   map[*conn]struct{}
	closing bool
}

// New returns a Hub over st. now may be nil (time.Now).
func New(st *store.Store, log *slog.Logger, cfg Config, now func() time.Time) *Hub {
	if now == nil {
		now = time.Now
	}
	h := &Hub{
		st: st, log: log, cfg: cfg.withDefaults(), now: now, node: newConnID(),
		rooms: make(map[string]*roomHub),
		conns: make(map[*conn]struct{}),
	}
	h.sub = st.NewSubscriber(h.busMessage, h.resubscribed)
	return h
}

// busMessage routes a message of the node's shared subscription to its
// room's queue. It runs on the subscription's reader: it never blocks.
func (h *Hub) busMessage(id string, p []byte) {
	h.mu.Lock()
	rh := h.rooms[id]
	h.mu.Unlock()
	if rh != nil {
		rh.queue(p)
	}
}

// resubscribed: the room's channel was subscribed again after the
// connection to Redis was re-established; messages may have been lost.
func (h *Hub) resubscribed(id string) {
	h.mu.Lock()
	rh := h.rooms[id]
	ok := rh != nil && rh.subscribed
	h.mu.Unlock()
	if ok {
		h.idc.resubscribed() // before heads: Redis may be another data set now
		rh.requestHeads()
	}
}

func (h *Hub) observeSubscriptions() {
	conns, chans := h.sub.Stats()
	h.cfg.Observer.Subscriptions(conns, chans)
}

// Participant is an authorised member joining a room.
type Participant struct {
	Room     string
	Role     string
	Seat     string
	Gen      int64
	Name     string
	Template *templates.Template
	// Device is the id of the browser binding the socket was opened with
	// (the way back's device; empty for a socket without one). Removing
	// that device closes the socket.
	Device string
	// SocketID and Addr are set by AdmitSocket when the socket was counted
	// against the socket limits (the HTTP layer does it before the
	// upgrade); Serve releases it. Empty: not counted.
	SocketID string
	Addr     string
}

// register adds c to the registry unless the hub is draining.
func (h *Hub) register(c *conn) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closing {
		return false
	}
	h.conns[c] = struct{}{}
	h.wg.Add(1)
	return true
}

func (h *Hub) unregister(c *conn) {
	h.mu.Lock()
	delete(h.conns, c)
	h.mu.Unlock()
	h.wg.Done()
}

// join returns the room's hub, subscribing this node to the room's channel
// when it is the first local member. The subscription is confirmed before
// join returns, so nothing committed afterwards can be missed.
func (h *Hub) join(ctx context.Context, id string, tpl *templates.Template) (*roomHub, error) {
	h.mu.Lock()
	rh := h.rooms[id]
	created := rh == nil
	if created {
		rh = newRoomHub(h, id, tpl)
		h.rooms[id] = rh
	}
	rh.refs++
	h.mu.Unlock()

	if created {
		err := h.sub.Subscribe(ctx, id)
		if err == nil {
			h.rememberStoreIdentity(ctx)
			h.mu.Lock()
			rh.subscribed = true
			h.mu.Unlock()
			time.AfterFunc(presenceInterval, rh.heartbeat)
		}
		rh.err = err
		close(rh.ready)
		h.observeSubscriptions()
	} else {
		select {
		case <-rh.ready:
		case <-ctx.Done():
			h.leave(rh)
			return nil, ctx.Err()
		}
	}
	if rh.err != nil {
		h.leave(rh)
		return nil, rh.err
	}
	return rh, nil
}

// leave drops one reference; the last one unsubscribes.
func (h *Hub) leave(rh *roomHub) {
	h.mu.Lock()
	rh.refs--
	last := rh.refs == 0
	if last && h.rooms[rh.id] == rh {
		delete(h.rooms, rh.id)
	}
	subscribed := rh.subscribed
	h.mu.Unlock()
	if last && subscribed {
		close(rh.stop)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		h.sub.Unsubscribe(ctx, rh.id)
		cancel()
		h.observeSubscriptions()
	}
}

// Shutdown stops accepting connections, lets every connection finish the
// message it is handling, flushes what is queued for it, closes it with
// 1001 (clients reconnect to another node and resume), and waits for all of
// them until ctx ends.
func (h *Hub) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	h.closing = true
	conns := make([]*conn, 0, len(h.conns))
	for c := range h.conns {
		conns = append(conns, c)
	}
	h.mu.Unlock()
	for _, c := range conns {
		c.drain()
	}
	done := make(chan struct{})
	go func() { h.wg.Wait(); close(done) }()
	select {
	case <-done:
		_ = h.sub.Close()
		return nil
	case <-ctx.Done():
		for _, c := range conns {
			c.kill(closeGoingAway, "server shutting down")
		}
		return ctx.Err()
	}
}

// Conns reports how many sockets this node serves.
func (h *Hub) Conns() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.conns)
}

// DeleteRoom removes every key of the room and closes its sockets on every
// node with 4004.
func (h *Hub) DeleteRoom(ctx context.Context, id string, tpl *templates.Template) error {
	if err := h.st.DeleteRoom(ctx, id, roomKeys(tpl), encodeBus(busHeader{Kind: kindDeleted}, nil)); err != nil {
		return err
	}
	return h.st.ForgetSockets(ctx, id)
}

// Rotate revokes every invite token of the room, closes the sockets that
// used one (4003), and returns the new generation.
func (h *Hub) Rotate(ctx context.Context, id string) (int64, error) {
	return h.st.RotateGen(ctx, id, encodeBus(busHeader{Kind: kindRotated}, nil))
}

// DeviceRemovedReason is the close reason of a socket whose device was
// removed from the room (code 4003, like a replaced link).
const DeviceRemovedReason = "device removed"

// RemoveDevice marks the device removed (record is the store's removal
// mark) and closes its sockets on every node with 4003.
func (h *Hub) RemoveDevice(ctx context.Context, id, device string, record []byte) error {
	return h.st.RemoveDevice(ctx, id, device, record, encodeBus(busHeader{Kind: kindDevice}, []byte(device)))
}

// Notice sends every socket of the room, on every node, a "notice" frame
// (protocol.Notice): something everyone in the room is told, which
// changes no state.
func (h *Hub) Notice(ctx context.Context, id string, n protocol.Notice) error {
	n.T = protocol.TNotice
	return h.st.Publish(ctx, id, encodeBus(busHeader{Kind: kindNotice}, protocol.Encode(n)))
}

// CreateRoom stores a new room in its initial state.
func (h *Hub) CreateRoom(ctx context.Context, id string, tpl *templates.Template, mode room.Mode, names map[string]string) error {
	now := h.now()
	st := room.New(tpl, mode, now)
	st.Names = make(map[room.Role]string, len(names))
	for seat, n := range names {
		st.Names[room.Role(seat)] = n
	}
	return h.st.CreateRoom(ctx, id, tpl.ID, string(mode), now, mustJSON(st), mustJSON(names), roomKeys(tpl))
}

func roomKeys(tpl *templates.Template) []string { return room.TextKeys(tpl) }

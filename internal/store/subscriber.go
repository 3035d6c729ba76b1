package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Subscriber carries the pub/sub channels of every room a node serves over
// a small fixed number of Redis connections, instead of one connection per
// room (Redis's maxclients would otherwise cap nodes × rooms):
//
//   - standalone or embedded Redis: one connection, SUBSCRIBE and
//     UNSUBSCRIBE as rooms come and go;
//   - Redis Cluster: one connection per master, with sharded pub/sub. A
//     shard channel can only be subscribed on the master that owns its
//     slot, so rooms are grouped by that master.
//
// The contract is the one of a per-room subscription: Subscribe returns
// only once Redis has confirmed the room's channel, so nothing committed
// afterwards is missed; and because pub/sub is fire-and-forget, every time
// a connection is re-established (Redis restarted, network cut) each room
// on it is reported through the resubscribed callback, so its clients can
// catch up from the logs.
//
// Callbacks run on the connection's reader goroutine: they must not block
// (hand the payload to a queue).
type Subscriber struct {
	s        *Store
	message  func(room string, payload []byte)
	resub    func(room string)
	mu       sync.Mutex
	shards   map[string]*shard // "" standalone; a master's address on a cluster
	channels map[string]*subChannel
	closed   bool
	wg       sync.WaitGroup
}

// subChannel is one room's channel. refs counts Subscribe calls not yet
// undone, so a late Unsubscribe of a room that was joined again at once
// cannot cut the new subscription off.
type subChannel struct {
	room      string
	sh        *shard
	refs      int
	confirmed chan struct{} // closed at the first confirmation
	done      bool
}

// shard is one pub/sub connection.
type shard struct {
	ps      *redis.PubSub
	started bool
	n       int // channels on it
}

// NewSubscriber returns a Subscriber that calls message for every payload
// published to a subscribed room, and resubscribed for every room whose
// channel was subscribed again after its connection was re-established.
func (s *Store) NewSubscriber(message func(room string, payload []byte), resubscribed func(room string)) *Subscriber {
	return &Subscriber{s: s, message: message, resub: resubscribed,
		shards: make(map[string]*shard), channels: make(map[string]*subChannel)}
}

// ErrSubscriberClosed is returned by Subscribe after Close.
var ErrSubscriberClosed = errors.New("store: subscriber closed")

// Subscribe subscribes the node to the room's channel (once, however many
// times it is called) and waits until Redis has confirmed it. Every
// successful call must be matched by one Unsubscribe.
func (b *Subscriber) Subscribe(ctx context.Context, room string) error {
	ch := keys{room}.channel()
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return ErrSubscriberClosed
	}
	c := b.channels[ch]
	if c == nil {
		key, err := b.shardKey(ctx, ch)
		if err != nil {
			b.mu.Unlock()
			return err
		}
		sh := b.shards[key]
		if sh == nil {
			sh = &shard{ps: b.newPubSub(ctx)}
			b.shards[key] = sh
		}
		c = &subChannel{room: room, sh: sh, confirmed: make(chan struct{})}
		b.channels[ch] = c
		sh.n++
		// The command is written under b.mu, so SUBSCRIBE and UNSUBSCRIBE
		// of one channel reach Redis in the order of the refs they change.
		if err := b.subscribeCmd(ctx, sh, ch); err != nil {
			b.dropLocked(ch, c)
			b.mu.Unlock()
			return fmt.Errorf("store: subscribe to room: %w", err)
		}
		if !sh.started {
			// The reader starts after the first (S)SUBSCRIBE: on a cluster
			// the connection is bound to the node of the first channel.
			sh.started = true
			b.wg.Add(1)
			go b.read(sh)
		}
	}
	c.refs++
	b.mu.Unlock()

	select {
	case <-c.confirmed:
		return nil
	case <-ctx.Done():
		b.Unsubscribe(context.Background(), room)
		return fmt.Errorf("store: waiting for the room's subscription: %w", ctx.Err())
	}
}

// Unsubscribe undoes one Subscribe; the last one unsubscribes the channel.
// The connection stays, for the next room.
func (b *Subscriber) Unsubscribe(ctx context.Context, room string) {
	ch := keys{room}.channel()
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.channels[ch]
	if c == nil {
		return
	}
	c.refs--
	if c.refs > 0 {
		return
	}
	b.dropLocked(ch, c)
}

// dropLocked forgets ch and tells Redis. A failed UNSUBSCRIBE is harmless:
// go-redis has already removed the channel from what it subscribes again
// after a reconnect, and messages of unknown channels are ignored.
func (b *Subscriber) dropLocked(ch string, c *subChannel) {
	delete(b.channels, ch)
	c.sh.n--
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if b.s.opt.Sharded {
		_ = c.sh.ps.SUnsubscribe(ctx, ch)
	} else {
		_ = c.sh.ps.Unsubscribe(ctx, ch)
	}
}

// Stats reports the pub/sub connections and the channels subscribed.
func (b *Subscriber) Stats() (conns, channels int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.shards), len(b.channels)
}

// Close ends every subscription and waits for the readers.
func (b *Subscriber) Close() error {
	b.mu.Lock()
	b.closed = true
	shards := b.shards
	b.shards = map[string]*shard{}
	b.mu.Unlock()
	for _, sh := range shards {
		_ = sh.ps.Close()
	}
	b.wg.Wait()
	return nil
}

func (b *Subscriber) shardKey(ctx context.Context, ch string) (string, error) {
	if !b.s.opt.Sharded {
		return "", nil
	}
	cc, ok := b.s.rdb.(*redis.ClusterClient)
	if !ok {
		return "", nil // sharded pub/sub on one node: one connection
	}
	m, err := cc.MasterForKey(ctx, ch)
	if err != nil {
		return "", fmt.Errorf("store: finding the shard of a room: %w", err)
	}
	return m.Options().Addr, nil
}

func (b *Subscriber) newPubSub(ctx context.Context) *redis.PubSub {
	if b.s.opt.Sharded {
		return b.s.rdb.SSubscribe(ctx)
	}
	return b.s.rdb.Subscribe(ctx)
}

func (b *Subscriber) subscribeCmd(ctx context.Context, sh *shard, ch string) error {
	if b.s.opt.Sharded {
		return sh.ps.SSubscribe(ctx, ch)
	}
	return sh.ps.Subscribe(ctx, ch)
}

// pingEvery: an idle connection is pinged this often, so a connection
// that died without a reset is noticed (and re-established) in time.
const pingEvery = 15 * time.Second

// read is the reader of one connection. go-redis re-establishes a broken
// connection on the next read and subscribes its channels again; each
// confirmation that nobody waits for is such a resubscription.
func (b *Subscriber) read(sh *shard) {
	defer b.wg.Done()
	ctx := context.Background()
	failures := 0
	for {
		m, err := sh.ps.ReceiveTimeout(ctx, pingEvery)
		if err != nil {
			if b.isClosed() {
				return
			}
			var ne interface{ Timeout() bool }
			if errors.As(err, &ne) && ne.Timeout() {
				_ = sh.ps.Ping(ctx)
				continue
			}
			if strings.HasPrefix(err.Error(), "CROSSSLOT") {
				// After a reconnect go-redis subscribes every shard channel
				// in one SSUBSCRIBE, which a cluster refuses when they are
				// in different slots: subscribe them one by one instead.
				go b.resubscribeEach(sh)
				continue
			}
			failures++
			time.Sleep(backoff(failures))
			continue
		}
		failures = 0
		switch m := m.(type) {
		case *redis.Message:
			if room, ok := b.roomOf(m.Channel); ok {
				b.message(room, []byte(m.Payload))
			}
		case *redis.Subscription:
			if m.Kind == "subscribe" || m.Kind == "ssubscribe" {
				b.confirmed(m.Channel)
			}
		}
	}
}

func (b *Subscriber) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

func (b *Subscriber) roomOf(ch string) (string, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.channels[ch]
	if c == nil {
		return "", false
	}
	return c.room, true
}

// confirmed handles a subscribe confirmation: the first one releases the
// Subscribe calls waiting for it, any later one is a resubscription.
func (b *Subscriber) confirmed(ch string) {
	b.mu.Lock()
	c := b.channels[ch]
	if c == nil {
		b.mu.Unlock()
		return
	}
	first := !c.done
	if first {
		c.done = true
		close(c.confirmed)
	}
	room := c.room
	b.mu.Unlock()
	if !first {
		b.resub(room)
	}
}

// resubscribeEach subscribes every channel of sh again, one command each.
func (b *Subscriber) resubscribeEach(sh *shard) {
	b.mu.Lock()
	defer b.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for ch, c := range b.channels {
		if c.sh == sh {
			_ = b.subscribeCmd(ctx, sh, ch)
		}
	}
}

// backoff is the pause after the n-th failure in a row: 50 ms doubling to
// at most 2 s.
func backoff(n int) time.Duration {
	d := 50 * time.Millisecond
	for i := 1; i < n && d < 2*time.Second; i++ {
		d *= 2
	}
	return min(d, 2*time.Second)
}

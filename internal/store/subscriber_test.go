package store

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"repairroom/internal/redistest"
)

// recorder collects what a Subscriber reports.
type recorder struct {
	mu    sync.Mutex
	msgs  map[string][]string
	resub map[string]int
}

func newRecorder() *recorder {
	return &recorder{msgs: map[string][]string{}, resub: map[string]int{}}
}

func (r *recorder) message(room string, p []byte) {
	r.mu.Lock()
	r.msgs[room] = append(r.msgs[room], string(p))
	r.mu.Unlock()
}

func (r *recorder) resubscribed(room string) {
	r.mu.Lock()
	r.resub[room]++
	r.mu.Unlock()
}

func (r *recorder) until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r.mu.Lock()
		ok := cond()
		r.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pubsubClients counts the pub/sub connections of every node behind c.
func pubsubClients(t *testing.T, c redis.UniversalClient) int {
	t.Helper()
	ctx := context.Background()
	count := func(cl *redis.Client) int {
		s, err := cl.ClientList(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, line := range strings.Split(s, "\n") {
			for _, f := range strings.Fields(line) {
				if (strings.HasPrefix(f, "sub=") || strings.HasPrefix(f, "ssub=")) && !strings.HasSuffix(f, "=0") {
					n++
					break
				}
			}
		}
		return n
	}
	if cc, ok := c.(*redis.ClusterClient); ok {
		var mu sync.Mutex
		total := 0
		_ = cc.ForEachShard(ctx, func(ctx context.Context, cl *redis.Client) error {
			mu.Lock()
			total += count(cl)
			mu.Unlock()
			return nil
		})
		return total
	}
	return count(c.(*redis.Client))
}

// killPubSub drops every pub/sub connection, as a network cut would.
func killPubSub(t *testing.T, c redis.UniversalClient) {
	t.Helper()
	ctx := context.Background()
	if cc, ok := c.(*redis.ClusterClient); ok {
		_ = cc.ForEachShard(ctx, func(ctx context.Context, cl *redis.Client) error {
			return cl.ClientKillByFilter(ctx, "TYPE", "pubsub").Err()
		})
		return
	}
	if err := c.ClientKillByFilter(ctx, "TYPE", "pubsub").Err(); err != nil {
		t.Fatal(err)
	}
}

// One Subscriber carries many rooms over at most one connection per
// shard, delivers each room's messages to that room only, reports every
// room after its connection is re-established (on a cluster, where
// go-redis's one-command resubscription is refused across slots, too),
// and gives channels back as rooms go.
func TestSubscriberMultiplexesRooms(t *testing.T) {
	cases := []struct {
		name    string
		rdb     func(t *testing.T) redis.UniversalClient
		sharded bool
		conns   int
	}{
		{"standalone", func(t *testing.T) redis.UniversalClient { return redistest.Client(t) }, false, 1},
		{"cluster", func(t *testing.T) redis.UniversalClient { return redistest.Cluster(t) }, true, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rdb := tc.rdb(t)
			opt := DefaultOptions()
			opt.Sharded = tc.sharded
			s := New(rdb, opt)
			rec := newRecorder()
			sub := s.NewSubscriber(rec.message, rec.resubscribed)
			defer sub.Close()
			ctx := context.Background()
			var rooms []string
			for i := 0; i < 30; i++ {
				room := fmt.Sprintf("%s-room-%d", tc.name, i)
				rooms = append(rooms, room)
				if err := sub.Subscribe(ctx, room); err != nil {
					t.Fatalf("subscribe %s: %v", room, err)
				}
			}
			if got := pubsubClients(t, rdb); got > tc.conns {
				t.Fatalf("30 rooms hold %d pub/sub connections; want at most %d", got, tc.conns)
			}
			for _, room := range rooms {
				if err := s.Publish(ctx, room, []byte("hello "+room)); err != nil {
					t.Fatal(err)
				}
			}
			rec.until(t, "every room got its message", func() bool {
				for _, room := range rooms {
					if m := rec.msgs[room]; len(m) != 1 || m[0] != "hello "+room {
						return false
					}
				}
				return true
			})

			killPubSub(t, rdb)
			rec.until(t, "every room was reported resubscribed", func() bool {
				for _, room := range rooms {
					if rec.resub[room] == 0 {
						return false
					}
				}
				return true
			})
			for _, room := range rooms {
				if err := s.Publish(ctx, room, []byte("again")); err != nil {
					t.Fatal(err)
				}
			}
			rec.until(t, "every room hears again after the cut", func() bool {
				for _, room := range rooms {
					if len(rec.msgs[room]) != 2 {
						return false
					}
				}
				return true
			})

			for _, room := range rooms[:20] {
				sub.Unsubscribe(ctx, room)
			}
			if c, ch := sub.Stats(); c > tc.conns || ch != 10 {
				t.Fatalf("after 20 rooms left: %d connections, %d channels", c, ch)
			}
		})
	}
}

// A room subscribed twice (a late Unsubscribe of its previous hub racing
// a new join) stays subscribed until both are undone.
func TestSubscriberCountsReferences(t *testing.T) {
	s := New(redistest.Client(t), DefaultOptions())
	rec := newRecorder()
	sub := s.NewSubscriber(rec.message, rec.resubscribed)
	defer sub.Close()
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		if err := sub.Subscribe(ctx, "twice"); err != nil {
			t.Fatal(err)
		}
	}
	sub.Unsubscribe(ctx, "twice")
	if err := s.Publish(ctx, "twice", []byte("still here")); err != nil {
		t.Fatal(err)
	}
	rec.until(t, "the room still hears", func() bool { return len(rec.msgs["twice"]) == 1 })
	sub.Unsubscribe(ctx, "twice")
	if _, ch := sub.Stats(); ch != 0 {
		t.Fatalf("%d channels after both unsubscribed", ch)
	}
}

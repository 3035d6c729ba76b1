package store

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"repairroom/internal/redistest"
)

// Two nodes (two Stores, two connections) on one Redis share one budget:
// what one node allowed counts on the other.
func TestAllowIsSharedAcrossNodes(t *testing.T) {
	rdb := redistest.Client(t)
	// The second node has its own connections to the same database.
	other := redis.NewClient(rdb.(*redis.Client).Options())
	t.Cleanup(func() { _ = other.Close() })
	a, b := New(rdb, DefaultOptions()), New(other, DefaultOptions())
	ctx := context.Background()
	subject := "203.0.113.7-" + t.Name()
	allowed := 0
	for i := 0; i < 10; i++ {
		s := a
		if i%2 == 1 {
			s = b
		}
		got, err := s.Allow(ctx, "rooms", subject, 4, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if got.Allowed {
			allowed++
		} else if got.RetryAfter <= 0 || got.RetryAfter > time.Minute {
			t.Errorf("attempt %d: RetryAfter %v, want within the window", i, got.RetryAfter)
		}
	}
	if allowed != 4 {
		t.Fatalf("allowed %d of 10 with a shared limit of 4 per window", allowed)
	}
	// Another subject has its own budget.
	if got, err := b.Allow(ctx, "rooms", "198.51.100.1-"+t.Name(), 4, time.Minute); err != nil || !got.Allowed {
		t.Fatalf("another address: %+v %v", got, err)
	}
}

func TestAllowRefusesNonsense(t *testing.T) {
	s := New(redistest.Client(t), DefaultOptions())
	for _, c := range []struct {
		max    int
		window time.Duration
	}{{0, time.Minute}, {5, 0}} {
		if _, err := s.Allow(context.Background(), "rooms", "x", c.max, c.window); err == nil {
			t.Errorf("Allow(max=%d, window=%v) accepted", c.max, c.window)
		}
	}
}

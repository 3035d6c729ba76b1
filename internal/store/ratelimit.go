package store

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Allowance is the answer of a rate limit: whether this attempt may go
// ahead, and when the caller may try again if not.
type Allowance struct {
	Allowed    bool
	RetryAfter time.Duration
}

// rateKey names a counter. The subject (e.g. a client address) is its own
// hash tag: counters of different subjects spread over a Cluster's shards,
// and one counter is one key.
func rateKey(name, subject string) string {
	return fmt.Sprintf("rl:%s:{%s}", name, subject)
}

// rateScript counts one attempt and answers {count, ms left in the
// window}; the window starts with the first attempt and the key expires
// with it.
var rateScript = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {n, ttl}
`)

// Allow counts one attempt of subject against limit name: at most max per
// window, shared by every node on this Redis. The window opens with the
// subject's first attempt (as Fiber's limiter did per node), so max
// attempts then a wait of at most one window. A refused attempt still
// counts but does not extend the window.
func (s *Store) Allow(ctx context.Context, name, subject string, max int, window time.Duration) (Allowance, error) {
	if max <= 0 || window <= 0 {
		return Allowance{}, fmt.Errorf("store: rate limit %s: max and window must be positive", name)
	}
	res, err := rateScript.Run(ctx, s.rdb, []string{rateKey(name, subject)}, window.Milliseconds()).Int64Slice()
	if err != nil {
		return Allowance{}, fmt.Errorf("store: rate limit %s: %w", name, err)
	}
	if len(res) != 2 {
		return Allowance{}, fmt.Errorf("store: rate limit %s: unexpected reply %v", name, res)
	}
	if res[0] <= int64(max) {
		return Allowance{Allowed: true}, nil
	}
	return Allowance{RetryAfter: time.Duration(res[1]) * time.Millisecond}, nil
}

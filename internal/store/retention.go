package store

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Retention. Every write keeps a room's keys for its retention period from
// that write (the store's TTL by default). A room may have its own period,
// chosen by the people in it within limits.MaxRoomTTL (SetRetention): it
// is kept in the meta hash as "ttl" (milliseconds), and every script that
// refreshes a room's keys reads it there, so all keys of a room move
// together and none expires before the others.

// KeptUntil returns when the room's data expires if nothing is written
// before: now plus the remaining TTL of its meta key. ErrNoRoom or
// ErrRoomLost when it has none.
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

// setRetentionScript records the room's retention and applies it to every
// key the room has, and to its retention marker (keys.go: kept). KEYS
// meta, then the room's other keys, then the marker. ARGV ttl ms.
// Returns 0 without the room.
var setRetentionScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'ttl', ARGV[1])
for i = 1, #KEYS - 1 do
  if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('PEXPIRE', KEYS[i], ARGV[1]) end
end
redis.call('SET', KEYS[#KEYS], ARGV[1], 'PX', 2 * tonumber(ARGV[1]))
return 1
`)

// SetRetention keeps the room for ttl from now, and for ttl after each
// later write. The caller bounds ttl (limits.MaxRoomTTL). fields are the
// room's text keys. ErrNoRoom or ErrRoomLost when the room is gone.
func (s *Store) SetRetention(ctx context.Context, id string, fields []string, ttl time.Duration) error {
	if ttl < time.Second {
		return fmt.Errorf("store: retention of %s is too short: %s", id, ttl)
	}
	n, err := setRetentionScript.Run(ctx, s.rdb, append(keys{id}.all(fields), keys{id}.kept()), ttl.Milliseconds()).Int()
	if err != nil {
		return fmt.Errorf("store: set retention: %w", err)
	}
	if n == 0 {
		return s.missing(ctx, id)
	}
	return nil
}

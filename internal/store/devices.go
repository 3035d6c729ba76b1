package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// ErrNoDevice is returned for a device secret the room does not know.
var ErrNoDevice = errors.New("store: no such device")

// bindDeviceScript records a device under the room's keys with the
// meta key's remaining TTL, so the binding expires and is deleted with the
// room. KEYS meta, devices. ARGV hash, record. Returns 0 without the room.
var bindDeviceScript = redis.NewScript(`
local ttl = redis.call('PTTL', KEYS[1])
if ttl == -2 then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
return 1
`)

// BindDevice records a browser's device secret (its hash, never the
// secret) for a seat of the room: record is the caller's JSON.
func (s *Store) BindDevice(ctx context.Context, id, hash string, record []byte) error {
	k := keys{id}
	n, err := bindDeviceScript.Run(ctx, s.rdb, []string{k.meta(), k.devices()}, hash, record).Int()
	if err != nil {
		return fmt.Errorf("store: bind device: %w", err)
	}
	if n == 0 {
		return s.missing(ctx, id)
	}
	return nil
}

// Device returns the record of a device hash bound to the room.
func (s *Store) Device(ctx context.Context, id, hash string) ([]byte, error) {
	b, err := s.rdb.HGet(ctx, keys{id}.devices(), hash).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNoDevice
	}
	if err != nil {
		return nil, fmt.Errorf("store: read device: %w", err)
	}
	return b, nil
}

package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// ErrNoDevice is returned for a device secret the room does not know.
var ErrNoDevice = errors.New("store: no such device")

// Results of BindDevice.
const (
	DeviceKnown = 1 // the browser was bound before: its record was renewed
	DeviceNew   = 2 // a browser the room had not seen
	DeviceGone  = 3 // the browser was removed from the room: nothing was written
)

// removedMark is how a removed device's record starts (RemoveDevice
// writes it), so the binding script can refuse it without decoding JSON.
const removedMark = `{"removed":true`

// bindDeviceScript records a device under the room's keys with the
// meta key's remaining TTL, so the binding expires and is deleted with the
// room. A removed device stays removed. KEYS meta, devices. ARGV hash,
// record, removed mark. Returns 0 without the room, else a Device* result.
var bindDeviceScript = redis.NewScript(`
local ttl = redis.call('PTTL', KEYS[1])
if ttl == -2 then return 0 end
local old = redis.call('HGET', KEYS[2], ARGV[1])
if old and string.sub(old, 1, string.len(ARGV[3])) == ARGV[3] then return 3 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
if old then return 1 end
return 2
`)

// BindDevice records a browser's device secret (its hash, never the
// secret) for a seat of the room: record is the caller's JSON. It returns
// DeviceKnown, DeviceNew, or DeviceGone (then nothing was written).
func (s *Store) BindDevice(ctx context.Context, id, hash string, record []byte) (int, error) {
	k := keys{id}
	n, err := bindDeviceScript.Run(ctx, s.rdb, []string{k.meta(), k.devices()}, hash, record, removedMark).Int()
	if err != nil {
		return 0, fmt.Errorf("store: bind device: %w", err)
	}
	if n == 0 {
		return 0, s.missing(ctx, id)
	}
	return n, nil
}

// Devices returns every device record of the room by hash, removed ones
// included (their records start with {"removed":true).
func (s *Store) Devices(ctx context.Context, id string) (map[string][]byte, error) {
	m, err := s.rdb.HGetAll(ctx, keys{id}.devices()).Result()
	if err != nil {
		return nil, fmt.Errorf("store: list devices: %w", err)
	}
	out := make(map[string][]byte, len(m))
	for h, v := range m {
		out[h] = []byte(v)
	}
	return out, nil
}

// DeviceRemoved reports whether a device record is a removal mark.
func DeviceRemoved(record []byte) bool {
	return len(record) >= len(removedMark) && string(record[:len(removedMark)]) == removedMark
}

// removeDeviceScript replaces a bound device's record by a removal mark
// (kept, with the room's TTL, so the browser stays refused) and tells the
// room's subscribers, in one step. KEYS devices, meta. ARGV hash, mark,
// publish command, channel, notice. Returns 0 when the device is unknown.
var removeDeviceScript = redis.NewScript(`
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local ttl = redis.call('PTTL', KEYS[2])
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
redis.call(ARGV[3], ARGV[4], ARGV[5])
return 1
`)

// RemoveDevice marks a bound device removed (record must start with
// {"removed":true) and publishes notice to the room's nodes, which close
// that device's sockets. ErrNoDevice when the room has no such device.
func (s *Store) RemoveDevice(ctx context.Context, id, hash string, record, notice []byte) error {
	if !DeviceRemoved(record) {
		return fmt.Errorf("store: remove device: the record is not a removal mark")
	}
	k := keys{id}
	n, err := removeDeviceScript.Run(ctx, s.rdb, []string{k.devices(), k.meta()}, hash, record, s.pubcmd(), k.channel(), notice).Int()
	if err != nil {
		return fmt.Errorf("store: remove device: %w", err)
	}
	if n == 0 {
		return ErrNoDevice
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

package store

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Open sockets, counted across every node so that the socket limits hold
// for a deployment, not per node. Two hashes of socket id -> expiry:
//
//   - per room, rr:{ROOM}:sockets, value "seat|expiryMs": the per-seat and
//     per-room limits;
//   - per client address, rr:{a:ADDR}:sockets, value "expiryMs": the
//     per-address limit, under its own hash tag (an address is no room).
//
// Entries expire (SocketTTL) unless the node serving the socket refreshes
// them (the room heartbeat does), so the sockets of a node that died stop
// counting after a while; expired entries are removed by the next
// admission. A socket is admitted before the upgrade and released when it
// closes.

// SocketTTL is how long a socket counts without a refresh.
const SocketTTL = 2 * time.Minute

func roomSocketsKey(room string) string { return fmt.Sprintf("rr:{%s}:sockets", room) }
func addrSocketsKey(addr string) string { return fmt.Sprintf("rr:{a:%s}:sockets", addr) }

// SocketLimit names the limit that refused a socket.
type SocketLimit string

// The socket limits.
const (
	SocketLimitSeat SocketLimit = "seat"
	SocketLimitRoom SocketLimit = "room"
	SocketLimitAddr SocketLimit = "addr"
)

// admitScript counts the live entries of KEYS[1] (dropping expired ones)
// and adds ARGV[2] unless a limit is reached. ARGV: now, id, seat ("" for
// an address hash), value, per-seat limit (0: none), total limit, ttl ms.
// Returns "ok", "seat" or "total".
var admitScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local all = redis.call('HGETALL', KEYS[1])
local total, seat = 0, 0
for i = 1, #all, 2 do
  local v = all[i + 1]
  local s, exp = string.match(v, '^(.*)|(%d+)$')
  if not exp then s, exp = '', v end
  if tonumber(exp) == nil or tonumber(exp) <= now then
    redis.call('HDEL', KEYS[1], all[i])
  elseif all[i] ~= ARGV[2] then
    total = total + 1
    if ARGV[3] ~= '' and s == ARGV[3] then seat = seat + 1 end
  end
end
if tonumber(ARGV[5]) > 0 and seat >= tonumber(ARGV[5]) then return 'seat' end
if total >= tonumber(ARGV[6]) then return 'total' end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[7])
return 'ok'
`)

// refreshScript renews the expiry of the entries ARGV[3..] of KEYS[1]
// that still exist (a socket released meanwhile stays released). ARGV:
// new expiry, ttl ms, ids...
var refreshScript = redis.NewScript(`
for i = 3, #ARGV do
  local v = redis.call('HGET', KEYS[1], ARGV[i])
  if v then
    local s = string.match(v, '^(.*)|%d+$')
    if s then
      redis.call('HSET', KEYS[1], ARGV[i], s .. '|' .. ARGV[1])
    else
      redis.call('HSET', KEYS[1], ARGV[i], ARGV[1])
    end
  end
end
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`)

// AdmitSocket counts socket id of seat from addr in room, unless a limit
// is reached: then it returns the limit and changes nothing (beyond
// dropping expired entries).
func (s *Store) AdmitSocket(ctx context.Context, room, seat, addr, id string, perSeat, perRoom, perAddr int, now time.Time) (SocketLimit, error) {
	exp := strconv.FormatInt(now.Add(SocketTTL).UnixMilli(), 10)
	ms := strconv.FormatInt(now.UnixMilli(), 10)
	ttl := strconv.FormatInt(SocketTTL.Milliseconds(), 10)
	got, err := admitScript.Run(ctx, s.rdb, []string{roomSocketsKey(room)},
		ms, id, seat, seat+"|"+exp, perSeat, perRoom, ttl).Text()
	if err != nil {
		return "", fmt.Errorf("store: admit socket to room: %w", err)
	}
	switch got {
	case "seat":
		return SocketLimitSeat, nil
	case "total":
		return SocketLimitRoom, nil
	}
	got, err = admitScript.Run(ctx, s.rdb, []string{addrSocketsKey(addr)},
		ms, id, "", exp, 0, perAddr, ttl).Text()
	if err == nil && got == "ok" {
		return "", nil
	}
	// Undo the room's entry: the socket is not admitted after all.
	if herr := s.rdb.HDel(ctx, roomSocketsKey(room), id).Err(); herr != nil && err == nil {
		err = herr
	}
	if err != nil {
		return "", fmt.Errorf("store: admit socket from address: %w", err)
	}
	return SocketLimitAddr, nil
}

// ReleaseSocket stops counting a socket.
func (s *Store) ReleaseSocket(ctx context.Context, room, addr, id string) error {
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.HDel(ctx, roomSocketsKey(room), id)
		p.HDel(ctx, addrSocketsKey(addr), id)
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: release socket: %w", err)
	}
	return nil
}

// RefreshSockets keeps the sockets of one room on this node counted:
// byAddr maps each client address to the ids of its sockets.
func (s *Store) RefreshSockets(ctx context.Context, room string, byAddr map[string][]string, now time.Time) error {
	exp := strconv.FormatInt(now.Add(SocketTTL).UnixMilli(), 10)
	ttl := strconv.FormatInt(SocketTTL.Milliseconds(), 10)
	var all []any
	for addr, ids := range byAddr {
		args := []any{exp, ttl}
		for _, id := range ids {
			args = append(args, id)
			all = append(all, id)
		}
		if err := refreshScript.Run(ctx, s.rdb, []string{addrSocketsKey(addr)}, args...).Err(); err != nil {
			return fmt.Errorf("store: refresh sockets of an address: %w", err)
		}
	}
	if len(all) == 0 {
		return nil
	}
	if err := refreshScript.Run(ctx, s.rdb, []string{roomSocketsKey(room)}, append([]any{exp, ttl}, all...)...).Err(); err != nil {
		return fmt.Errorf("store: refresh sockets of a room: %w", err)
	}
	return nil
}

// ForgetSockets drops a deleted room's socket count (its sockets are being
// closed; their releases then find nothing, and refreshes recreate
// nothing).
func (s *Store) ForgetSockets(ctx context.Context, room string) error {
	if err := s.rdb.Del(ctx, roomSocketsKey(room)).Err(); err != nil {
		return fmt.Errorf("store: forget sockets: %w", err)
	}
	return nil
}

package store

import "github.com/redis/go-redis/v9"

// The scripts below are the only writers of a room's keys, so every
// invariant (version = number of accepted updates, the log ends at version,
// state rev grows by one per accepted act) is kept in one place, atomically.
// Each one publishes on the room's channel from inside the script: Redis runs
// scripts one at a time, so subscribers see updates in commit order.

// createRoom: KEYS meta, then field keys. ARGV ttlms, tpl, mode, created,
// state, epoch, names.
var createRoomScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'tpl', ARGV[2], 'mode', ARGV[3], 'created', ARGV[4], 'gen', 1, 'state', ARGV[5], 'rev', 0, 'names', ARGV[7])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
for i = 2, #KEYS do
  redis.call('HSET', KEYS[i], 'text', '', 'version', 0, 'epoch', ARGV[6])
  redis.call('PEXPIRE', KEYS[i], ARGV[1])
end
return 1
`)

// ensureFields returns the room state, rev and link generation, then epoch,
// version, text of each field key, creating a missing one empty under a
// fresh epoch: a field whose data was lost must never be mistaken for the
// old one. KEYS meta, then field keys. ARGV ttlms, epoch.
var ensureFieldsScript = redis.NewScript(`
local m = redis.call('HMGET', KEYS[1], 'state', 'rev', 'gen')
if not m[1] then return false end
local out = {m[1], m[2], m[3]}
for i = 2, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 0 then
    redis.call('HSET', KEYS[i], 'text', '', 'version', 0, 'epoch', ARGV[2])
    redis.call('PEXPIRE', KEYS[i], ARGV[1])
  end
  local v = redis.call('HMGET', KEYS[i], 'epoch', 'version', 'text')
  out[#out+1] = v[1]; out[#out+1] = v[2]; out[#out+1] = v[3]
end
return out
`)

// push commits one push: only when the room state is still at the rev the
// permission check saw, and the field still at the epoch and version the
// changes were applied to. KEYS meta, field, log. ARGV rev, epoch, version,
// newtext, ttlms, maxlog, pubcmd, channel, payload, entries...
// Replies {status, version, epoch}.
var pushScript = redis.NewScript(`
local m = redis.call('HGET', KEYS[1], 'rev')
if not m then return {'gone', 0, ''} end
if m ~= ARGV[1] then return {'rev', 0, ''} end
local f = redis.call('HMGET', KEYS[2], 'epoch', 'version')
if not f[1] then return {'epoch', 0, ''} end
if f[1] ~= ARGV[2] then return {'epoch', tonumber(f[2]), f[1]} end
local v = tonumber(f[2])
if v ~= tonumber(ARGV[3]) then return {'behind', v, f[1]} end
local n = #ARGV - 9
v = v + n
redis.call('HSET', KEYS[2], 'text', ARGV[4], 'version', v)
for i = 10, #ARGV do redis.call('RPUSH', KEYS[3], ARGV[i]) end
redis.call('LTRIM', KEYS[3], -tonumber(ARGV[6]), -1)
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ARGV[5]) end
redis.call(ARGV[7], ARGV[8], ARGV[9])
return {'ok', v, f[1]}
`)

// pull returns the log after version since: {'log', epoch, version, entries...}
// or, when the epoch differs or the log no longer reaches back,
// {'reset', epoch, version, text}. KEYS field, log. ARGV since, epoch.
var pullScript = redis.NewScript(`
local f = redis.call('HMGET', KEYS[1], 'epoch', 'version', 'text')
if not f[1] then return false end
local v = tonumber(f[2])
local since = tonumber(ARGV[1])
local n = redis.call('LLEN', KEYS[2])
local first = v - n
if f[1] ~= ARGV[2] or since < first or since > v then
  return {'reset', f[1], v, f[3]}
end
local out = {'log', f[1], v}
if since < v then
  local entries = redis.call('LRANGE', KEYS[2], since - first, -1)
  for i = 1, #entries do out[#out+1] = entries[i] end
end
return out
`)

// commitState replaces the room state if it is still at rev ARGV[1], adds
// the event to the timeline and publishes. KEYS meta, events. ARGV rev,
// state, event, ttlms, maxevents, pubcmd, channel, payload.
var commitStateScript = redis.NewScript(`
local m = redis.call('HGET', KEYS[1], 'rev')
if not m then return -1 end
if m ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'rev', tonumber(ARGV[1]) + 1)
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], '*', 'e', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call(ARGV[6], ARGV[7], ARGV[8])
return 1
`)

// refreshPresence renews records that still exist. KEYS presence. ARGV
// ttlms, then member, record pairs.
var refreshPresenceScript = redis.NewScript(`
for i = 2, #ARGV, 2 do
  if redis.call('HEXISTS', KEYS[1], ARGV[i]) == 1 then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i+1])
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
`)

// rotate bumps the invite generation and announces it: the payload prefix
// followed by the new generation in decimal. KEYS meta. ARGV pubcmd,
// channel, prefix. Returns the new generation, or -1 without the room.
var rotateScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local g = redis.call('HINCRBY', KEYS[1], 'gen', 1)
redis.call(ARGV[1], ARGV[2], ARGV[3] .. g)
return g
`)

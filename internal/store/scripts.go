package store

import "github.com/redis/go-redis/v9"

// The scripts below are the only writers of a room's keys, so every
// invariant (see the package comment: version = number of accepted
// updates, the log ends at version, the snapshot base is inside the log
// window, the room's byte counter matches what it stores, state rev grows
// by one per accepted act) is kept in one place, atomically. Each one
// publishes on the room's channel from inside the script: Redis runs
// scripts one at a time, so subscribers see updates in commit order.

// createRoom: KEYS meta, tombstone, retention marker, then field keys.
// ARGV ttlms, tpl, mode, created, state, epoch, names.
var createRoomScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[1], 'tpl', ARGV[2], 'mode', ARGV[3], 'created', ARGV[4], 'gen', 1, 'state', ARGV[5], 'rev', 0, 'names', ARGV[7], 'bytes', 0)
redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('SET', KEYS[3], ARGV[1], 'PX', 2 * tonumber(ARGV[1]))
for i = 4, #KEYS do
  redis.call('HSET', KEYS[i], 'text', '', 'version', 0, 'epoch', ARGV[6], 'base', 0, 'sb', 0, 'lb', 0)
  redis.call('PEXPIRE', KEYS[i], ARGV[1])
end
return 1
`)

// touchRoom renews every key of a room for the room's own retention (the
// meta's "ttl", else ARGV's default), and its retention marker, only if the
// room is there (an expired or deleted one stays gone). KEYS retention
// marker, meta, then the other keys. ARGV default ttlms.
var touchRoomScript = redis.NewScript(`
local ttl = tonumber(redis.call('HGET', KEYS[2], 'ttl') or ARGV[1])
if redis.call('PEXPIRE', KEYS[2], ttl) == 0 then return 0 end
redis.call('SET', KEYS[1], ttl, 'PX', 2 * ttl)
for i = 3, #KEYS do redis.call('PEXPIRE', KEYS[i], ttl) end
return 1
`)

// ensureFields returns {'ok', state, rev, gen} and then, per field, epoch,
// version, base, snapshot text, log bytes after base, lineage ('from',
// field.go), the number of log entries after base and those entries;
// {'gone'} for a deleted room (tombstone) or an expired one (retention
// marker past its deadline) and {'lost'} for a room that has neither. A missing field is created empty under a fresh epoch: a
// field whose data was lost must never be mistaken for the old one.
// KEYS meta, tombstone, retention marker, then (field, log) pairs. ARGV
// ttlms, epoch.
var ensureFieldsScript = redis.NewScript(expiredLua + `
local m = redis.call('HMGET', KEYS[1], 'state', 'rev', 'gen', 'ttl')
if not m[1] then
  if redis.call('EXISTS', KEYS[2]) == 1 or expired(KEYS[3]) then return {'gone'} end
  return {'lost'}
end
local ttl = m[4] or ARGV[1] -- the room's own retention (retention.go), else the default
local out = {'ok', m[1], m[2], m[3]}
for i = 4, #KEYS, 2 do
  if redis.call('EXISTS', KEYS[i]) == 0 then
    redis.call('DEL', KEYS[i+1])
    redis.call('HSET', KEYS[i], 'text', '', 'version', 0, 'epoch', ARGV[2], 'base', 0, 'sb', 0, 'lb', 0)
    redis.call('PEXPIRE', KEYS[i], ttl)
  end
  local f = redis.call('HMGET', KEYS[i], 'epoch', 'version', 'base', 'text', 'sb', 'from')
  local v = tonumber(f[2])
  local base = tonumber(f[3] or f[2])
  out[#out+1] = f[1]; out[#out+1] = v; out[#out+1] = base; out[#out+1] = f[4] or ''
  out[#out+1] = tonumber(f[5] or 0); out[#out+1] = f[6] or ''
  if base < v then
    local first = v - redis.call('LLEN', KEYS[i+1])
    local es = redis.call('LRANGE', KEYS[i+1], base - first, -1)
    out[#out+1] = #es
    for j = 1, #es do out[#out+1] = es[j] end
  else
    out[#out+1] = 0
  end
end
return out
`)

// push commits one push: only when the room state is still at the rev the
// permission check saw, the field still at the epoch and version the
// changes were applied to, the seat's insert budget and the room's byte
// ceiling allow it, and a snapshot is supplied when one is due. Nothing is
// written unless everything passes.
//
// KEYS meta, field, log, hist, inserts, retention marker. ARGV 1 rev, 2 epoch, 3 version,
// 4 ttlms, 5 pubcmd, 6 channel, 7 payload, 8 '1' when 9 is the text at the
// new head, 9 text, 10 now (ms), 11 max log entries, 12 max log bytes,
// 13 snapshot every (versions), 14 snapshot every (bytes), 15 room bytes
// ceiling, 16 history bytes ceiling, 17 seat, 18 units inserted, 19 seat
// units per minute, 20 current minute, 21... entries.
// Replies {status, version, epoch, base, bytes of log after base}.
//
// The retention TTL is refreshed only when it has run down by a tenth (at
// most an hour): each PEXPIRE is ~60 bytes of AOF, more than a keystroke.
var pushScript = redis.NewScript(`
local m = redis.call('HMGET', KEYS[1], 'rev', 'bytes', 'ttl')
if not m[1] then return {'gone', 0, '', 0, 0} end
if m[1] ~= ARGV[1] then return {'rev', 0, '', 0, 0} end
local ttl = tonumber(m[3] or ARGV[4]) -- the room's own retention (retention.go), else the default
local slack = math.min(3600000, math.floor(ttl / 10))
local function touch(k)
  if redis.call('PTTL', k) < ttl - slack then redis.call('PEXPIRE', k, ttl); return true end
  return false
end
local f = redis.call('HMGET', KEYS[2], 'epoch', 'version', 'base', 'sb', 'lb', 'hb', 'tt')
if not f[1] then return {'epoch', 0, '', 0, 0} end
local v = tonumber(f[2])
local base = tonumber(f[3] or f[2])
local sb = tonumber(f[4] or 0)
local lb = tonumber(f[5] or 0)
if f[1] ~= ARGV[2] then return {'epoch', v, f[1], base, sb} end
if v ~= tonumber(ARGV[3]) then return {'behind', v, f[1], base, sb} end
local ins = tonumber(ARGV[18])
local used = 0
if ins > 0 then
  local r = redis.call('HGET', KEYS[5], ARGV[17])
  if r then
    local sp = string.find(r, ' ', 1, true)
    if sp and string.sub(r, 1, sp - 1) == ARGV[20] then used = tonumber(string.sub(r, sp + 1)) end
  end
  if used + ins > tonumber(ARGV[19]) then return {'rate', v, f[1], base, sb} end
end
local n = #ARGV - 20
local add = 0
for i = 21, #ARGV do add = add + #ARGV[i] end
local nv = v + n
local snap = ARGV[8] == '1'
if not snap and (nv - base >= tonumber(ARGV[13]) or sb + add >= tonumber(ARGV[14])) then
  return {'snap', v, f[1], base, sb}
end
local delta = add
local nbase, nsb = base, sb + add
local rec = nil
local hb = tonumber(f[6] or 0)
local hpop, hpopped = 0, 0
if snap then
  local old = redis.call('HMGET', KEYS[2], 'text', 'sat')
  local otext = old[1] or ''
  delta = delta + #ARGV[9] - #otext
  nbase, nsb = nv, 0
  rec = f[1] .. ' ' .. base .. ' ' .. (old[2] or '0') .. ' ' .. otext
  local hmax = tonumber(ARGV[16])
  if #rec > hmax then
    rec = nil
  else
    local hlen = redis.call('LLEN', KEYS[4])
    while hb + #rec - hpopped > hmax and hpop < hlen do
      hpopped = hpopped + #redis.call('LINDEX', KEYS[4], hpop)
      hpop = hpop + 1
    end
    delta = delta + #rec - hpopped
  end
end
local old = redis.call('LLEN', KEYS[3])
local llen = old + n
local first = nv - llen
local nlb = lb + add
local pop, popped = 0, 0
local maxE, maxB = tonumber(ARGV[11]), tonumber(ARGV[12])
while (llen - pop > maxE or nlb - popped > maxB) and first + pop + 1 <= nbase do
  local e
  if pop < old then e = redis.call('LINDEX', KEYS[3], pop) else e = ARGV[21 + pop - old] end
  popped = popped + #e
  pop = pop + 1
end
delta = delta - popped
if delta > 0 and tonumber(m[2] or 0) + delta > tonumber(ARGV[15]) then
  return {'large', v, f[1], base, sb}
end
for i = 21, #ARGV do redis.call('RPUSH', KEYS[3], ARGV[i]) end
if pop > 0 then redis.call('LTRIM', KEYS[3], pop, -1) end
-- Expiries are renewed at most every slack/2 ms ('tt' is the last time),
-- not checked with three PTTLs on every keystroke.
local now = tonumber(ARGV[10])
local tt = tonumber(f[7] or 0)
local renew = now - tt >= slack / 2 or now < tt
if snap then
  redis.call('HSET', KEYS[2], 'version', nv, 'base', nbase, 'sb', nsb, 'lb', nlb - popped, 'text', ARGV[9], 'sat', ARGV[10])
else
  redis.call('HSET', KEYS[2], 'version', nv, 'sb', nsb, 'lb', nlb - popped)
end
if rec then
  redis.call('RPUSH', KEYS[4], rec)
  if hpop > 0 then redis.call('LTRIM', KEYS[4], hpop, -1) end
  redis.call('HSET', KEYS[2], 'hb', hb + #rec - hpopped)
  touch(KEYS[4])
end
if delta ~= 0 then redis.call('HINCRBY', KEYS[1], 'bytes', delta) end
if ins > 0 then
  redis.call('HSET', KEYS[5], ARGV[17], ARGV[20] .. ' ' .. (used + ins))
  -- A seat's first insert of a minute keeps the budgets two minutes more;
  -- later ones in that minute need not look.
  if used == 0 then redis.call('PEXPIRE', KEYS[5], 120000) end
end
if renew then
  redis.call('HSET', KEYS[2], 'tt', now)
  if touch(KEYS[1]) then redis.call('SET', KEYS[6], ttl, 'PX', 2 * ttl) end -- the retention marker follows the meta
  for i = 2, 3 do touch(KEYS[i]) end
end
redis.call(ARGV[5], ARGV[6], ARGV[7])
return {'ok', nv, f[1], nbase, nsb}
`)

// pull returns the log after version since: {'log', epoch, version,
// entries...}; or, when the epoch differs or the log no longer reaches
// back, {'reset', epoch, version, base, snapshot text, lineage, entries
// after base...}; or {'ahead', epoch, version} when since is above the
// field's version under its own epoch (proof that Redis went back). KEYS
// field, log. ARGV since, epoch.
var pullScript = redis.NewScript(`
local f = redis.call('HMGET', KEYS[1], 'epoch', 'version', 'base', 'text', 'from')
if not f[1] then return false end
local v = tonumber(f[2])
local since = tonumber(ARGV[1])
if f[1] == ARGV[2] and since > v then return {'ahead', f[1], v} end
local first = v - redis.call('LLEN', KEYS[2])
if f[1] ~= ARGV[2] or since < first then
  local base = tonumber(f[3] or f[2])
  local out = {'reset', f[1], v, base, f[4] or '', f[5] or ''}
  if base < v then
    local es = redis.call('LRANGE', KEYS[2], base - first, -1)
    for i = 1, #es do out[#out+1] = es[i] end
  end
  return out
end
local out = {'log', f[1], v}
if since < v then
  local es = redis.call('LRANGE', KEYS[2], since - first, -1)
  for i = 1, #es do out[#out+1] = es[i] end
end
return out
`)

// lineageLua: lineage(e, v, old) is a field's 'from' after it moves from
// epoch e at version v (both as stored strings) to a new epoch: the pair
// "e:v" first, then the pairs of e's own lineage old, at most 8 in all
// (newest first). Clients read it to tell that the new epoch's text holds
// what they had under e up to v (field.go, Lineage).
const lineageLua = `
local function lineage(e, v, old)
  local out, n = e .. ':' .. v, 1
  if old then
    for p in string.gmatch(old, '%S+') do
      if n >= 8 then break end
      out = out .. ' ' .. p
      n = n + 1
    end
  end
  return out
end
`

// bumpEpoch moves a field to a new epoch if it is still under the epoch in
// which Redis was proven to have gone back, so no version number of that
// epoch is ever reused for other text; the new epoch's lineage names the
// old one at the field's version (the text is the same). KEYS field. ARGV
// epoch, new epoch. Replies {epoch, version}.
var bumpEpochScript = redis.NewScript(lineageLua + `
local f = redis.call('HMGET', KEYS[1], 'epoch', 'version', 'from')
if not f[1] then return false end
if f[1] == ARGV[1] then
  redis.call('HSET', KEYS[1], 'epoch', ARGV[2], 'from', lineage(f[1], f[2], f[3]))
  return {ARGV[2], tonumber(f[2])}
end
return {f[1], tonumber(f[2])}
`)

// deleteRoom removes every key of the room, leaves the tombstone and
// publishes the notice. KEYS room keys..., tombstone (last). ARGV ttlms,
// pubcmd, channel, payload.
var deleteRoomScript = redis.NewScript(`
for i = 1, #KEYS - 1 do redis.call('DEL', KEYS[i]) end
redis.call('SET', KEYS[#KEYS], '1', 'PX', ARGV[1])
redis.call(ARGV[2], ARGV[3], ARGV[4])
return 1
`)

// commitState replaces the room state if it is still at rev ARGV[1], adds
// the event to the timeline and publishes. KEYS meta, events, retention
// marker. ARGV rev, state, event, ttlms, maxevents, pubcmd, channel,
// payload.
var commitStateScript = redis.NewScript(`
local m = redis.call('HGET', KEYS[1], 'rev')
if not m then return -1 end
if m ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'rev', tonumber(ARGV[1]) + 1)
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], '*', 'e', ARGV[3])
local ttl = redis.call('HGET', KEYS[1], 'ttl') or ARGV[4] -- the room's own retention (retention.go), else the default
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('PEXPIRE', KEYS[2], ttl)
redis.call('SET', KEYS[3], ttl, 'PX', 2 * tonumber(ttl))
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

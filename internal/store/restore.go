package store

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Restoring what Redis lost. A client that holds a signed checkpoint (a
// field's text at an epoch and version the server acknowledged, or the
// room state at a rev) presents it after Redis went back or was wiped; the
// caller has verified the signature, and these scripts put the data back.
//
// Invariants they keep:
//   - A restored field always gets a new epoch, and keeps the checkpoint's
//     version: versions of a field only grow across restores, so "higher
//     version wins" is meaningful across epochs, and no (epoch, version)
//     ever names two texts.
//   - A checkpoint at or below the field's version is refused (stale),
//     under any epoch: what the store holds is as new or newer.
//   - A deleted room (tombstone) is never brought back, nor an expired
//     one (its retention marker shows the deadline passed, keys.go).

// Restore outcomes.
const (
	RestoreOK    = "ok"    // put back under the new epoch
	RestoreStale = "stale" // the store holds this version or a newer one: nothing written
)

// RestoreResult says what RestoreField did. Epoch and Version are the
// field's after the call.
type RestoreResult struct {
	Status  string
	Epoch   string
	Version int64
}

// RestoreField puts back field's text at version (a verified checkpoint
// taken under epoch) under newEpoch, if the store holds an older version
// than that (or no field at all), and publishes payload (the reset every
// reader must take) in the same script. The log starts over at version;
// older snapshots stay in the history. It returns ErrNoRoom for a deleted
// room and ErrRoomLost for a room whose meta is gone (restore the room
// state first).
//
// The new epoch's lineage (Field.From) starts with (epoch, version): its
// text is epoch's at version. When the field is still under epoch (Redis
// went back within it), epoch's own lineage follows.
func (s *Store) RestoreField(ctx context.Context, id, field, epoch string, version int64, text, newEpoch string, payload []byte) (RestoreResult, error) {
	k := keys{id}
	res, err := restoreFieldScript.Run(ctx, s.rdb, []string{k.meta(), k.tomb(), k.field(field), k.log(field), k.kept()},
		version, text, newEpoch, s.ttlms(), time.Now().UnixMilli(), s.pubcmd(), k.channel(), payload, epoch).Slice()
	if err != nil {
		return RestoreResult{}, fmt.Errorf("store: restore %s: %w", field, err)
	}
	if len(res) != 3 {
		return RestoreResult{}, fmt.Errorf("store: restore %s: unexpected reply %v", field, res)
	}
	st, _ := res[0].(string)
	e, _ := res[1].(string)
	v, _ := res[2].(int64)
	switch st {
	case "gone":
		return RestoreResult{}, ErrNoRoom
	case "lost":
		return RestoreResult{}, ErrRoomLost
	}
	return RestoreResult{Status: st, Epoch: e, Version: v}, nil
}

// RestoreRoom recreates the meta of a lost room from a verified state
// checkpoint: template, mode and names as the state holds them, the state
// itself at rev, and link generation gen (the restoring socket's token's,
// so every link that worked before works again and no revoked one comes
// back). Fields are not created here: the next read creates them empty
// under new epochs, and field checkpoints restore them. It reports false
// when the room already has its meta (someone restored it first, or it
// was never lost), and returns ErrNoRoom for a deleted room. payload (the
// state notice) is published when the room was restored.
//
// role is whose view state is. A partner's view lacks what only the
// moderator or the other partner may read, so a room restored from one is
// marked (restoredBy): the moderator's view at the same rev or a later one
// replaces it (nothing was decided since that the moderator's view lacks),
// and the other partner's view of the same rev is merged into it
// (MergeRestoredRoom). retention is the room's own period as its state
// recorded it (0: the server's default).
func (s *Store) RestoreRoom(ctx context.Context, id, role, tpl, mode string, created time.Time, state []byte, rev, gen int64, names, payload []byte, retention time.Duration) (bool, error) {
	k := keys{id}
	ttl, own := s.ttlms(), ""
	if retention >= time.Second {
		// The period its people chose (recorded in the state every seat's
		// view carries): kept, as SetRetention keeps it, in the meta.
		ttl, own = retention.Milliseconds(), "1"
	}
	n, err := restoreRoomScript.Run(ctx, s.rdb, []string{k.meta(), k.tomb(), k.kept()},
		tpl, mode, created.UTC().Format(time.RFC3339), state, rev, gen, names, ttl, s.pubcmd(), k.channel(), payload, role, own).Int()
	if err != nil {
		return false, fmt.Errorf("store: restore room: %w", err)
	}
	if n < 0 {
		return false, ErrNoRoom
	}
	return n == 1, nil
}

// RestoredRoom is a room's state as the meta holds it, with the seats whose
// views it was restored from.
type RestoredRoom struct {
	State []byte // as stored: its own rev field is 0, Rev is the one
	Rev   int64
	// By lists the seats whose views the state holds (the meta's
	// restoredBy, comma-separated): empty for a room never restored from a
	// checkpoint, "moderator" once the moderator's view replaced it.
	By []string
	// At is the rev the last restore or merge wrote (restoredAt): while
	// Rev is still At, no change was made since, and a partner's view of
	// another rev may still be combined with the state (room.CarryPrivate).
	At int64
}

// MayMerge reports whether role's view of the same rev may still add to
// the state: it was restored from partners' views only (the moderator's is
// the whole state, nothing is merged into it), and not from role's yet.
func (r RestoredRoom) MayMerge(role string) bool {
	if len(r.By) == 0 || role == "moderator" || slices.Contains(r.By, "moderator") {
		return false
	}
	return !slices.Contains(r.By, role)
}

// Unchanged reports whether the state is still what the last restore or
// merge of partners' views wrote: no change since, so a partner's view of
// another rev may still be combined with it. Once the room moved on, a
// view of an older history would undo what was decided since.
func (r RestoredRoom) Unchanged() bool {
	return len(r.By) > 0 && !slices.Contains(r.By, "moderator") && r.Rev == r.At
}

// RestoredRoom reads the room's state, rev and restoredBy. A room without
// meta is ErrNoRoom (deleted or expired) or ErrRoomLost.
func (s *Store) RestoredRoom(ctx context.Context, id string) (RestoredRoom, error) {
	v, err := s.rdb.HMGet(ctx, keys{id}.meta(), "state", "rev", "restoredBy", "restoredAt").Result()
	if err != nil {
		return RestoredRoom{}, fmt.Errorf("store: load restored state: %w", err)
	}
	st, _ := v[0].(string)
	rs, _ := v[1].(string)
	by, _ := v[2].(string)
	at, _ := v[3].(string)
	if st == "" {
		return RestoredRoom{}, s.missing(ctx, id)
	}
	r := RestoredRoom{State: []byte(st)}
	if r.Rev, err = strconv.ParseInt(rs, 10, 64); err != nil {
		return RestoredRoom{}, fmt.Errorf("store: room %s has a bad rev %q: %w", id, rs, err)
	}
	if by != "" {
		r.By = strings.Split(by, ",")
	}
	if at != "" {
		if r.At, err = strconv.ParseInt(at, 10, 64); err != nil {
			return RestoredRoom{}, fmt.Errorf("store: room %s has a bad restoredAt %q: %w", id, at, err)
		}
	}
	return r, nil
}

// MergeRestoredRoom writes state (the caller's combination of what the
// room was restored from and role's view: room.MergeView at the same rev,
// room.CarryPrivate across revs) at newRev, if the room is still at rev
// and still restored from exactly by; adds role to restoredBy, and
// publishes payload (the state notice), atomically. It reports false when
// either changed since they were read (an act moved the rev, another view
// was merged, the moderator's replaced the state): read again and decide
// again. A merge of the same rev keeps the rev (the merged state is the
// same state, whole where it was partial); a newer view moves it up.
func (s *Store) MergeRestoredRoom(ctx context.Context, id string, rev, newRev int64, by []string, role string, state, payload []byte) (bool, error) {
	k := keys{id}
	was := strings.Join(by, ",")
	all := slices.Clone(by)
	if !slices.Contains(all, role) {
		all = append(all, role)
	}
	n, err := mergeRoomScript.Run(ctx, s.rdb, []string{k.meta()}, rev, was, strings.Join(all, ","), state, s.pubcmd(), k.channel(), payload, newRev).Int()
	if err != nil {
		return false, fmt.Errorf("store: merge a restored room: %w", err)
	}
	if n < 0 {
		return false, s.missing(ctx, id)
	}
	return n == 1, nil
}

// mergeRoom: KEYS meta. ARGV rev, restoredBy expected, restoredBy to
// write, state, pubcmd, channel, payload, rev to write. Replies 1 written,
// 0 the rev or restoredBy changed, -1 no meta. Only a guard: what to
// merge is decided in Go (it needs the template).
var mergeRoomScript = redis.NewScript(`
local m = redis.call('HMGET', KEYS[1], 'rev', 'restoredBy')
if not m[1] then return -1 end
if m[1] ~= ARGV[1] or m[2] ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[4], 'restoredBy', ARGV[3], 'rev', ARGV[8], 'restoredAt', ARGV[8])
redis.call(ARGV[5], ARGV[6], ARGV[7])
return 1
`)

// restoreField: KEYS meta, tombstone, field, log, retention marker. ARGV
// version, text, new epoch, ttlms, now (ms), pubcmd, channel, payload, the
// checkpoint's epoch. Replies {status, epoch,
// version}: 'ok' with the new epoch, 'stale' with the field's, or 'gone'
// / 'lost' for a room without meta. The room's byte counter loses the old
// snapshot and log and gains the restored text.
var restoreFieldScript = redis.NewScript(expiredLua + lineageLua + `
if redis.call('EXISTS', KEYS[1]) == 0 then
  if redis.call('EXISTS', KEYS[2]) == 1 or expired(KEYS[5]) then return {'gone', '', 0} end
  return {'lost', '', 0}
end
local v = tonumber(ARGV[1])
local f = redis.call('HMGET', KEYS[3], 'epoch', 'version', 'text', 'lb', 'from')
if f[1] and tonumber(f[2]) >= v then return {'stale', f[1], tonumber(f[2])} end
local older = nil
if f[1] == ARGV[9] then older = f[5] end
local delta = #ARGV[2] - #(f[3] or '') - tonumber(f[4] or 0)
redis.call('DEL', KEYS[4])
local from = ''
if ARGV[9] ~= '' then from = lineage(ARGV[9], ARGV[1], older) end
redis.call('HSET', KEYS[3], 'epoch', ARGV[3], 'version', v, 'base', v, 'text', ARGV[2], 'sat', ARGV[5], 'sb', 0, 'lb', 0, 'from', from)
redis.call('HINCRBY', KEYS[1], 'bytes', delta)
local ttl = redis.call('HGET', KEYS[1], 'ttl') or ARGV[4] -- the room's own retention (retention.go), else the default
redis.call('PEXPIRE', KEYS[3], ttl)
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('SET', KEYS[5], ttl, 'PX', 2 * tonumber(ttl))
redis.call(ARGV[6], ARGV[7], ARGV[8])
return {'ok', ARGV[3], v}
`)

// restoreRoom: KEYS meta, tombstone, retention marker. ARGV tpl, mode,
// created, state, rev, gen, names, ttlms, pubcmd, channel, payload, role,
// own ("1": ttlms is the room's own retention, kept in the meta as "ttl").
// Replies 1 restored, 0 the meta exists, -1 deleted or expired.
var restoreRoomScript = redis.NewScript(expiredLua + `
if redis.call('EXISTS', KEYS[1]) == 1 then
  local m = redis.call('HMGET', KEYS[1], 'restoredBy', 'rev')
  if m[1] and m[1] ~= 'moderator' and ARGV[12] == 'moderator' and tonumber(m[2]) <= tonumber(ARGV[5]) then
    redis.call('HSET', KEYS[1], 'state', ARGV[4], 'rev', ARGV[5], 'restoredBy', 'moderator', 'restoredAt', ARGV[5])
    redis.call(ARGV[9], ARGV[10], ARGV[11])
    return 1
  end
  return 0
end
if redis.call('EXISTS', KEYS[2]) == 1 or expired(KEYS[3]) then return -1 end
redis.call('HSET', KEYS[1], 'tpl', ARGV[1], 'mode', ARGV[2], 'created', ARGV[3], 'state', ARGV[4], 'rev', ARGV[5], 'gen', ARGV[6], 'names', ARGV[7], 'bytes', 0, 'restoredBy', ARGV[12], 'restoredAt', ARGV[5])
if ARGV[13] == '1' then redis.call('HSET', KEYS[1], 'ttl', ARGV[8]) end
redis.call('PEXPIRE', KEYS[1], ARGV[8])
redis.call('SET', KEYS[3], ARGV[8], 'PX', 2 * tonumber(ARGV[8]))
redis.call(ARGV[9], ARGV[10], ARGV[11])
return 1
`)

package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"repairroom/internal/changeset"
)

// Entry is one stored update of a field's log. Clients read clientID and
// changes (the @codemirror/collab update); the rest is session history.
type Entry struct {
	ClientID string          `json:"clientID"`
	Changes  json.RawMessage `json:"changes"`
	By       string          `json:"by"`
	At       int64           `json:"at"`
}

// ParseEntry decodes a stored log entry and its changes.
func ParseEntry(b []byte) (Entry, changeset.ChangeSet, error) {
	var e Entry
	if err := json.Unmarshal(b, &e); err != nil {
		return e, changeset.ChangeSet{}, fmt.Errorf("decoding log entry: %w", err)
	}
	cs, err := changeset.Parse(e.Changes)
	if err != nil {
		return e, cs, fmt.Errorf("decoding log entry changes: %w", err)
	}
	return e, cs, nil
}

// Replay applies the changes of entries, in order, to text. The changes
// are composed first and the text is copied once: up to SnapshotEvery
// entries on a text of up to 64K units would otherwise copy the text once
// per entry on every read of the head.
func Replay(text string, entries [][]byte) (string, error) {
	if len(entries) == 0 {
		return text, nil
	}
	var all changeset.ChangeSet
	for i, b := range entries {
		_, cs, err := ParseEntry(b)
		if err != nil {
			return "", fmt.Errorf("log entry %d: %w", i, err)
		}
		if i == 0 {
			all = cs
			continue
		}
		if all.LenAfter() != cs.LenBefore() {
			return "", fmt.Errorf("replaying log entry %d: %w", i, changeset.ErrLengthMismatch)
		}
		all = all.Compose(cs)
	}
	out, err := all.Apply(text)
	if err != nil {
		return "", fmt.Errorf("replaying %d log entries: %w", len(entries), err)
	}
	return out, nil
}

// Head is a field at its head, with what the push path needs to commit in
// one round trip. Invariants: Text is the text at Version under Epoch;
// Base <= Version is the version of the text snapshot stored in Redis and
// SinceBytes the log bytes stored after it (they tell when the next
// snapshot is due); Tail holds the log entries of versions
// TailFrom+1 .. Version, oldest first (at load: the entries after Base).
type Head struct {
	Field
	Base       int64
	SinceBytes int64
	TailFrom   int64
	Tail       [][]byte
}

// Lineage names an earlier epoch of a field and the version up to which
// the current epoch's text holds that epoch's: a move to a new epoch
// (BumpEpoch: same text and version) or a restore from a checkpoint (the
// checkpoint's epoch at its version) records it, newest first, at most
// maxLineage pairs. A client still under one of those epochs knows that
// what the server acknowledged to it up to that version is in the text,
// not to be pushed again.
type Lineage struct {
	Epoch   string `json:"epoch"`
	Version int64  `json:"version"`
}

// maxLineage bounds a field's lineage (the Lua lineage function keeps it).
const maxLineage = 8

// Lineage returns f's lineage, newest first (see Lineage).
func (f Field) Lineage() []Lineage { return parseLineage(f.From) }

// LineageOf encodes ls as Field.From stores it.
func LineageOf(ls ...Lineage) string {
	var b strings.Builder
	for i, l := range ls {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(l.Epoch)
		b.WriteByte(':')
		b.WriteString(strconv.FormatInt(l.Version, 10))
	}
	return b.String()
}

// parseLineage reads the stored lineage "epoch:version epoch:version ...",
// skipping malformed pairs.
func parseLineage(s string) []Lineage {
	if s == "" {
		return nil
	}
	var out []Lineage
	for _, p := range strings.Fields(s) {
		i := strings.LastIndexByte(p, ':')
		if i <= 0 {
			continue
		}
		v, err := strconv.ParseInt(p[i+1:], 10, 64)
		if err != nil || v < 0 {
			continue
		}
		out = append(out, Lineage{Epoch: p[:i], Version: v})
		if len(out) == maxLineage {
			break
		}
	}
	return out
}

// headFrom reads epoch, version, base, snapshot text, bytes after base,
// lineage, entry count and the entries from a script reply, replaying
// them.
func headFrom(r []any) (Head, int, error) {
	if len(r) < 7 {
		return Head{}, 0, errors.New("short field record")
	}
	e, _ := r[0].(string)
	v, ok1 := r[1].(int64)
	base, ok2 := r[2].(int64)
	snap, _ := r[3].(string)
	sb, _ := r[4].(int64)
	from, _ := r[5].(string)
	n, ok3 := r[6].(int64)
	if e == "" || !ok1 || !ok2 || !ok3 || len(r) < 7+int(n) || base+n != v {
		return Head{}, 0, fmt.Errorf("corrupt field record (epoch %q, version %v, base %v, %v entries)", e, r[1], r[2], r[6])
	}
	h := Head{Field: Field{Epoch: e, Version: v, From: from}, Base: base, SinceBytes: sb, TailFrom: base}
	for _, x := range r[7 : 7+n] {
		str, _ := x.(string)
		h.Tail = append(h.Tail, []byte(str))
	}
	text, err := Replay(snap, h.Tail)
	if err != nil {
		return Head{}, 0, err
	}
	h.Text = text
	return h, 7 + int(n), nil
}

// Push is one accepted push, ready to commit.
type Push struct {
	Room, Field string
	Seat        string   // whose per-minute insert budget the push spends
	Rev         int64    // state rev the permission check used
	Epoch       string   // field epoch the changes were applied under
	Version     int64    // field version the changes were applied to
	Base        int64    // snapshot version as the caller knows it (Head.Base)
	SinceBytes  int64    // log bytes after Base as the caller knows it
	Text        string   // the text after the changes; stored only when a snapshot is due
	Inserted    int      // UTF-16 units inserted, counted as inserted (not net growth)
	Entries     [][]byte // one log entry per update, in order
	Publish     []byte   // what subscribers receive once committed
}

// Push outcomes.
const (
	PushOK          = "ok"     // committed; Version is the new version
	PushBehind      = "behind" // the field moved on; Version is current
	PushEpoch       = "epoch"  // the field was rebuilt under another epoch
	PushRev         = "rev"    // the room state changed: check permissions again
	PushGone        = "gone"   // the room no longer exists
	PushRateLimited = "rate"   // the seat's insert budget for this minute is spent
	PushTooLarge    = "large"  // the room's stored bytes would pass their ceiling
)

// PushResult says what happened to a push. Base and SinceBytes are the
// field's snapshot state after the push (or now, when refused).
type PushResult struct {
	Status     string
	Version    int64
	Epoch      string
	Base       int64
	SinceBytes int64
}

// Push commits p atomically: the log entries are appended (and the text
// snapshot rewritten when due), the seat's budget spent and p.Publish
// published, only if the state rev and the field's epoch and version are
// still those p was computed from and every limit allows it. Otherwise
// nothing is written.
func (s *Store) Push(ctx context.Context, p Push) (PushResult, error) {
	add := 0
	for _, e := range p.Entries {
		add += len(e)
	}
	due := p.Version+int64(len(p.Entries))-p.Base >= int64(s.lim.SnapshotEvery) ||
		p.SinceBytes+int64(add) >= int64(s.lim.SnapshotBytes)
	res, err := s.push(ctx, p, due)
	if err == nil && res.Status == "snap" {
		// The caller's idea of the snapshot was stale: send the text.
		res, err = s.push(ctx, p, true)
	}
	if err == nil && res.Status == "snap" {
		return PushResult{}, fmt.Errorf("store: push to %s: snapshot refused", p.Field)
	}
	return res, err
}

func (s *Store) push(ctx context.Context, p Push, withText bool) (PushResult, error) {
	k := keys{p.Room}
	now := time.Now()
	flag, text := "0", ""
	if withText {
		flag, text = "1", p.Text
	}
	args := make([]any, 0, 20+len(p.Entries))
	args = append(args, p.Rev, p.Epoch, p.Version, s.ttlms(), s.pubcmd(), k.channel(), p.Publish,
		flag, text, now.UnixMilli(), s.lim.LogEntries, s.lim.LogBytes, s.lim.SnapshotEvery, s.lim.SnapshotBytes,
		s.lim.RoomBytes, s.historyBytes(), p.Seat, p.Inserted, s.lim.SeatInsertPerMinute, now.Unix()/60)
	for _, e := range p.Entries {
		args = append(args, e)
	}
	res, err := s.runPush(ctx, []string{k.meta(), k.field(p.Field), k.log(p.Field), k.hist(p.Field), k.inserts(), k.kept()}, args)
	if err != nil {
		return PushResult{}, fmt.Errorf("store: push to %s: %w", p.Field, err)
	}
	if len(res) != 5 {
		return PushResult{}, fmt.Errorf("store: push to %s: unexpected reply %v", p.Field, res)
	}
	st, _ := res[0].(string)
	v, _ := res[1].(int64)
	e, _ := res[2].(string)
	b, _ := res[3].(int64)
	sb, _ := res[4].(int64)
	return PushResult{Status: st, Version: v, Epoch: e, Base: b, SinceBytes: sb}, nil
}

// historyBytes bounds one field's snapshot history: a quarter of the room
// ceiling, so a room keeps several fields' histories and still has room
// for its logs.
func (s *Store) historyBytes() int64 { return s.lim.RoomBytes / 4 }

// Pulled is the answer to a pull: either the log entries after the asked
// version (Reset false), or a snapshot to start over from (Reset true).
type Pulled struct {
	Reset bool
	// Rollback: the asked version was above the field's under its own
	// epoch, proof that Redis went back; the field was moved to a new epoch
	// (Field.Epoch) before answering with the reset.
	Rollback bool
	Field    Field    // Epoch and Version always; Text only when Reset
	From     int64    // version before the first entry
	Entries  [][]byte // raw log entries
}

// Pull returns the updates of field after version since under epoch, or a
// reset to the head. A pull above the field's version under its own epoch
// moves the field to a new epoch first (see Pulled.Rollback).
func (s *Store) Pull(ctx context.Context, id, field, epoch string, since int64) (Pulled, error) {
	out, err := s.pull(ctx, id, field, epoch, since)
	if err != nil || !out.Rollback {
		return out, err
	}
	if _, err := s.BumpEpoch(ctx, id, field, out.Field.Epoch); err != nil {
		return Pulled{}, err
	}
	out, err = s.pull(ctx, id, field, "", 0)
	out.Rollback = true
	return out, err
}

func (s *Store) pull(ctx context.Context, id, field, epoch string, since int64) (Pulled, error) {
	k := keys{id}
	res, err := pullScript.Run(ctx, s.rdb, []string{k.field(field), k.log(field)}, since, epoch).Slice()
	if errors.Is(err, redis.Nil) {
		// The field is gone: recreate it under a new epoch and reset.
		fs, err := s.Fields(ctx, id, []string{field})
		if err != nil {
			return Pulled{}, err
		}
		return Pulled{Reset: true, Field: fs[field]}, nil
	}
	if err != nil {
		return Pulled{}, fmt.Errorf("store: pull %s: %w", field, err)
	}
	if len(res) < 3 {
		return Pulled{}, fmt.Errorf("store: pull %s: unexpected reply", field)
	}
	kind, _ := res[0].(string)
	ep, _ := res[1].(string)
	v, _ := res[2].(int64)
	out := Pulled{Field: Field{Epoch: ep, Version: v}}
	switch kind {
	case "ahead":
		out.Rollback = true
		return out, nil
	case "reset":
		if len(res) < 6 {
			return Pulled{}, fmt.Errorf("store: pull %s: short reset", field)
		}
		out.Reset = true
		base, _ := res[3].(int64)
		snap, _ := res[4].(string)
		from, _ := res[5].(string)
		out.Field.From = from
		es := make([][]byte, 0, len(res)-6)
		for _, e := range res[6:] {
			str, _ := e.(string)
			es = append(es, []byte(str))
		}
		if base+int64(len(es)) != v {
			return Pulled{}, fmt.Errorf("store: pull %s: snapshot at %d with %d entries does not reach %d", field, base, len(es), v)
		}
		if out.Field.Text, err = Replay(snap, es); err != nil {
			return Pulled{}, fmt.Errorf("store: pull %s: %w", field, err)
		}
		return out, nil
	}
	out.From = since
	for _, e := range res[3:] {
		str, _ := e.(string)
		out.Entries = append(out.Entries, []byte(str))
	}
	return out, nil
}

// BumpEpoch moves field to a new epoch if it is still under epoch (the one
// in which Redis was proven to have gone back), keeping its text and
// version, so that no version number of that epoch is ever reused for
// other text. The new epoch's lineage is (epoch, version) followed by
// epoch's own, so clients under any of them keep what they had
// acknowledged. It returns the field's epoch afterwards.
func (s *Store) BumpEpoch(ctx context.Context, id, field, epoch string) (string, error) {
	res, err := bumpEpochScript.Run(ctx, s.rdb, []string{keys{id}.field(field)}, epoch, NewEpoch()).Slice()
	if errors.Is(err, redis.Nil) {
		return "", s.missing(ctx, id)
	}
	if err != nil || len(res) != 2 {
		return "", fmt.Errorf("store: move %s to a new epoch: %w (%v)", field, err, res)
	}
	e, _ := res[0].(string)
	return e, nil
}

// HistSnap is one text snapshot of a field: its text at Version under
// Epoch, taken At.
type HistSnap struct {
	Epoch   string
	Version int64
	At      time.Time
	Text    string
}

// TextAt returns the text of field at version v under epoch, from the
// field's snapshots (its history and the current one) and its log, read
// atomically. When the log still reaches from the nearest snapshot at or
// below v up to v, the text is exact (got == v). When it no longer does
// (entries fell out of the bounded log), the nearest snapshot at or below
// v is returned instead, with its version in got (got < v); ok is false
// when no snapshot of that epoch is at or below v.
func (s *Store) TextAt(ctx context.Context, id, field, epoch string, v int64) (text string, got int64, ok bool, err error) {
	k := keys{id}
	var hist *redis.StringSliceCmd
	var fh *redis.SliceCmd
	var lg *redis.StringSliceCmd
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		hist = p.LRange(ctx, k.hist(field), 0, -1)
		fh = p.HMGet(ctx, k.field(field), "epoch", "version", "base", "text", "sat")
		lg = p.LRange(ctx, k.log(field), 0, -1)
		return nil
	})
	if err != nil {
		return "", 0, false, fmt.Errorf("store: read history of %s: %w", field, err)
	}
	var snaps []HistSnap
	for _, r := range hist.Val() {
		if h, perr := parseHist(r); perr == nil {
			snaps = append(snaps, h)
		}
	}
	f := fh.Val()
	ep, _ := f[0].(string)
	if ep == "" {
		return "", 0, false, nil
	}
	vs, _ := f[1].(string)
	bs, _ := f[2].(string)
	cur, _ := strconv.ParseInt(vs, 10, 64)
	base, berr := strconv.ParseInt(bs, 10, 64)
	if berr != nil {
		base = cur
	}
	st, _ := f[3].(string)
	sat, _ := f[4].(string)
	ms, _ := strconv.ParseInt(sat, 10, 64)
	snaps = append(snaps, HistSnap{Epoch: ep, Version: base, At: time.UnixMilli(ms), Text: st})
	best := -1
	for i, sn := range snaps {
		if sn.Epoch == epoch && sn.Version <= v && (best < 0 || sn.Version >= snaps[best].Version) {
			best = i
		}
	}
	if best < 0 {
		return "", 0, false, nil
	}
	sn := snaps[best]
	entries := lg.Val()
	first := cur - int64(len(entries))
	if ep != epoch || v > cur || sn.Version < first {
		return sn.Text, sn.Version, true, nil
	}
	es := make([][]byte, 0, v-sn.Version)
	for _, e := range entries[sn.Version-first : v-first] {
		es = append(es, []byte(e))
	}
	text, err = Replay(sn.Text, es)
	if err != nil {
		return "", 0, false, fmt.Errorf("store: text of %s at %d: %w", field, v, err)
	}
	return text, v, true, nil
}

// parseHist reads "epoch base sat text".
func parseHist(r string) (HistSnap, error) {
	parts := strings.SplitN(r, " ", 4)
	if len(parts) != 4 {
		return HistSnap{}, errors.New("bad history record")
	}
	v, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return HistSnap{}, fmt.Errorf("bad history version: %w", err)
	}
	ms, _ := strconv.ParseInt(parts[2], 10, 64)
	return HistSnap{Epoch: parts[0], Version: v, At: time.UnixMilli(ms), Text: parts[3]}, nil
}

// History returns the field's older snapshots, oldest first (the current
// one is not included; TextAt uses both).
func (s *Store) History(ctx context.Context, id, field string) ([]HistSnap, error) {
	rs, err := s.rdb.LRange(ctx, keys{id}.hist(field), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("store: read history of %s: %w", field, err)
	}
	out := make([]HistSnap, 0, len(rs))
	for _, r := range rs {
		h, err := parseHist(r)
		if err != nil {
			return nil, fmt.Errorf("store: history of %s: %w", field, err)
		}
		out = append(out, h)
	}
	return out, nil
}

// IdentityChanged reads the Redis identity (see Identity) and compares it
// with the one this Store saw on its previous call; the first call only
// remembers it. A changed marker, or a changed run id, reports true.
func (s *Store) IdentityChanged(ctx context.Context) (bool, error) {
	marker, runID, err := s.Identity(ctx)
	if err != nil {
		return false, err
	}
	s.idMu.Lock()
	defer s.idMu.Unlock()
	changed := s.marker != "" && (marker != s.marker || runID != "" && s.runID != "" && runID != s.runID)
	s.marker, s.runID = marker, runID
	return changed, nil
}

// markerKey is written once per Redis data set: a changed value means the
// node now talks to another (or a wiped) data set.
const markerKey = "rr:marker"

// Identity returns the per-Redis marker (created on first use) and the
// run id of the Redis server that answered. A node remembers both; when
// either changes, Redis may have gone back or been replaced, and every
// field the node serves is moved to a new epoch. On a Cluster, run_id is
// that of whichever node answered INFO, so callers compare markers only.
func (s *Store) Identity(ctx context.Context) (marker, runID string, err error) {
	if err := s.rdb.SetNX(ctx, markerKey, NewEpoch()+NewEpoch(), 0).Err(); err != nil {
		return "", "", fmt.Errorf("store: write marker: %w", err)
	}
	if marker, err = s.rdb.Get(ctx, markerKey).Result(); err != nil {
		return "", "", fmt.Errorf("store: read marker: %w", err)
	}
	info, err := s.rdb.Info(ctx, "server").Result()
	if err != nil {
		return marker, "", nil // miniredis has no INFO; the marker suffices
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "run_id:"); ok {
			runID = v
		}
	}
	return marker, runID, nil
}

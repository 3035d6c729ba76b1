package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrNoRoom is returned for a room that does not exist (never created,
// deleted, or expired).
var ErrNoRoom = errors.New("room does not exist")

// ErrExists is returned by CreateRoom when the id is taken.
var ErrExists = errors.New("room id already exists")

// Options tune retention and sizes. The zero value is not useful: use
// DefaultOptions and change what you need.
type Options struct {
	TTL       time.Duration // retention of every room key, refreshed on writes
	MaxLog    int           // updates kept per field log
	MaxEvents int           // approximate timeline length
	Sharded   bool          // Redis Cluster: SPUBLISH/SSUBSCRIBE per room
}

// DefaultOptions: 30 days retention, 2000 updates per field log.
func DefaultOptions() Options {
	return Options{TTL: 30 * 24 * time.Hour, MaxLog: 2000, MaxEvents: 10000}
}

// Store is a room store on one Redis deployment (embedded, standalone or
// cluster, all through UniversalClient). It is safe for concurrent use.
type Store struct {
	rdb redis.UniversalClient
	opt Options
}

// New returns a Store using rdb.
func New(rdb redis.UniversalClient, opt Options) *Store {
	return &Store{rdb: rdb, opt: opt}
}

// Ping reports whether Redis answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}

func (s *Store) ttlms() int64 { return s.opt.TTL.Milliseconds() }

func (s *Store) pubcmd() string {
	if s.opt.Sharded {
		return "SPUBLISH"
	}
	return "PUBLISH"
}

// NewEpoch returns a random epoch id.
func NewEpoch() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}

// Meta is a room's metadata and current state.
type Meta struct {
	Template string
	Mode     string
	Created  time.Time
	Gen      int64  // invite token generation
	State    []byte // the room state as JSON (room.State)
	Rev      int64  // bumped by every accepted state change
	Names    []byte // display names by role, as JSON
}

// CreateRoom stores a new room with empty fields.
func (s *Store) CreateRoom(ctx context.Context, id, tpl, mode string, created time.Time, state, names []byte, fields []string) error {
	k := keys{id}
	ks := []string{k.meta()}
	for _, f := range fields {
		ks = append(ks, k.field(f))
	}
	n, err := createRoomScript.Run(ctx, s.rdb, ks, s.ttlms(), tpl, mode, created.UTC().Format(time.RFC3339), state, NewEpoch(), names).Int()
	if err != nil {
		return fmt.Errorf("store: create room: %w", err)
	}
	if n == 0 {
		return ErrExists
	}
	return nil
}

// Meta loads a room's metadata and state.
func (s *Store) Meta(ctx context.Context, id string) (Meta, error) {
	var m Meta
	h, err := s.rdb.HGetAll(ctx, keys{id}.meta()).Result()
	if err != nil {
		return m, fmt.Errorf("store: load room: %w", err)
	}
	if len(h) == 0 {
		return m, ErrNoRoom
	}
	m.Template, m.Mode, m.State, m.Names = h["tpl"], h["mode"], []byte(h["state"]), []byte(h["names"])
	m.Created, _ = time.Parse(time.RFC3339, h["created"])
	if m.Gen, err = strconv.ParseInt(h["gen"], 10, 64); err != nil {
		return m, fmt.Errorf("store: room %s has a bad gen: %w", id, err)
	}
	if m.Rev, err = strconv.ParseInt(h["rev"], 10, 64); err != nil {
		return m, fmt.Errorf("store: room %s has a bad rev: %w", id, err)
	}
	return m, nil
}

// RotateGen bumps the invite generation, revoking every earlier token,
// and publishes prefix followed by the new generation, atomically: a
// socket holding an old token is always told.
func (s *Store) RotateGen(ctx context.Context, id string, prefix []byte) (int64, error) {
	k := keys{id}
	g, err := rotateScript.Run(ctx, s.rdb, []string{k.meta()}, s.pubcmd(), k.channel(), prefix).Int64()
	if err != nil {
		return 0, fmt.Errorf("store: rotate links: %w", err)
	}
	if g < 0 {
		return 0, ErrNoRoom
	}
	return g, nil
}

// DeleteRoom removes every key of the room and tells its subscribers.
func (s *Store) DeleteRoom(ctx context.Context, id string, fields []string, notice []byte) error {
	k := keys{id}
	if err := s.rdb.Del(ctx, k.all(fields)...).Err(); err != nil {
		return fmt.Errorf("store: delete room: %w", err)
	}
	return s.Publish(ctx, id, notice)
}

// Touch refreshes the retention TTL of every key of the room, so a field
// nobody wrote for weeks does not expire while the room lives on.
func (s *Store) Touch(ctx context.Context, id string, fields []string) error {
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, key := range (keys{id}).all(fields) {
			p.PExpire(ctx, key, s.opt.TTL)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: touch room: %w", err)
	}
	return nil
}

// Field is the canonical state of one collaborative text.
type Field struct {
	Epoch   string `json:"epoch"`
	Version int64  `json:"version"`
	Text    string `json:"text"`
}

// Fields returns the given text fields of a room, recreating lost ones
// under a new epoch.
func (s *Store) Fields(ctx context.Context, id string, fields []string) (map[string]Field, error) {
	t, err := s.Snapshot(ctx, id, fields)
	return t.Fields, err
}

// Snapshot is the room state with some of its fields, read atomically.
type Snapshot struct {
	State  []byte
	Rev    int64
	Gen    int64 // invite token generation
	Fields map[string]Field
}

// Snapshot reads the room state and the given text fields in one round
// trip, recreating lost fields under a new epoch.
func (s *Store) Snapshot(ctx context.Context, id string, fields []string) (Snapshot, error) {
	k := keys{id}
	ks := []string{k.meta()}
	for _, f := range fields {
		ks = append(ks, k.field(f))
	}
	res, err := ensureFieldsScript.Run(ctx, s.rdb, ks, s.ttlms(), NewEpoch()).Slice()
	if errors.Is(err, redis.Nil) {
		return Snapshot{}, ErrNoRoom
	}
	if err != nil {
		return Snapshot{}, fmt.Errorf("store: load room snapshot: %w", err)
	}
	if len(res) != 3+3*len(fields) {
		return Snapshot{}, fmt.Errorf("store: load room snapshot: %d values for %d fields", len(res), len(fields))
	}
	st, _ := res[0].(string)
	rs, _ := res[1].(string)
	gs, _ := res[2].(string)
	out := Snapshot{State: []byte(st), Fields: make(map[string]Field, len(fields))}
	if out.Rev, err = strconv.ParseInt(rs, 10, 64); err != nil {
		return Snapshot{}, fmt.Errorf("store: room %s has a bad rev %q: %w", id, rs, err)
	}
	if out.Gen, err = strconv.ParseInt(gs, 10, 64); err != nil {
		return Snapshot{}, fmt.Errorf("store: room %s has a bad gen %q: %w", id, gs, err)
	}
	for i, f := range fields {
		j := 3 + 3*i
		fv, err := fieldFrom(res[j], res[j+1], res[j+2])
		if err != nil {
			return Snapshot{}, fmt.Errorf("store: field %s: %w", f, err)
		}
		out.Fields[f] = fv
	}
	return out, nil
}

func fieldFrom(epoch, version, text any) (Field, error) {
	e, _ := epoch.(string)
	vs, _ := version.(string)
	t, _ := text.(string)
	v, err := strconv.ParseInt(vs, 10, 64)
	if err != nil || e == "" {
		return Field{}, fmt.Errorf("corrupt field record (epoch %q, version %q)", e, vs)
	}
	return Field{Epoch: e, Version: v, Text: t}, nil
}

// State reads the room state and its rev.
func (s *Store) State(ctx context.Context, id string) ([]byte, int64, error) {
	v, err := s.rdb.HMGet(ctx, keys{id}.meta(), "state", "rev").Result()
	if err != nil {
		return nil, 0, fmt.Errorf("store: load state: %w", err)
	}
	st, _ := v[0].(string)
	rs, _ := v[1].(string)
	if st == "" {
		return nil, 0, ErrNoRoom
	}
	rev, err := strconv.ParseInt(rs, 10, 64)
	if err != nil {
		return nil, 0, fmt.Errorf("store: room %s has a bad rev %q: %w", id, rs, err)
	}
	return []byte(st), rev, nil
}

// Push is one accepted push, ready to commit.
type Push struct {
	Room, Field string
	Rev         int64    // state rev the permission check used
	Epoch       string   // field epoch the changes were applied under
	Version     int64    // field version the changes were applied to
	Text        string   // the text after the changes
	Entries     [][]byte // one log entry per update, in order
	Publish     []byte   // what subscribers receive once committed
}

// Push outcomes.
const (
	PushOK     = "ok"     // committed; Version is the new version
	PushBehind = "behind" // the field moved on; Version is current
	PushEpoch  = "epoch"  // the field was rebuilt under another epoch
	PushRev    = "rev"    // the room state changed: check permissions again
	PushGone   = "gone"   // the room no longer exists
)

// PushResult says what happened to a push.
type PushResult struct {
	Status  string
	Version int64
	Epoch   string
}

// Push commits p atomically: the new text, version and log entries are
// stored, and p.Publish is published, only if the state rev and the field's
// epoch and version are still those p was computed from.
func (s *Store) Push(ctx context.Context, p Push) (PushResult, error) {
	k := keys{p.Room}
	args := make([]any, 0, 9+len(p.Entries))
	args = append(args, p.Rev, p.Epoch, p.Version, p.Text, s.ttlms(), s.opt.MaxLog, s.pubcmd(), k.channel(), p.Publish)
	for _, e := range p.Entries {
		args = append(args, e)
	}
	res, err := pushScript.Run(ctx, s.rdb, []string{k.meta(), k.field(p.Field), k.log(p.Field)}, args...).Slice()
	if err != nil {
		return PushResult{}, fmt.Errorf("store: push to %s: %w", p.Field, err)
	}
	if len(res) != 3 {
		return PushResult{}, fmt.Errorf("store: push to %s: unexpected reply %v", p.Field, res)
	}
	st, _ := res[0].(string)
	v, _ := res[1].(int64)
	e, _ := res[2].(string)
	return PushResult{Status: st, Version: v, Epoch: e}, nil
}

// Pulled is the answer to a pull: either the log entries after the asked
// version (Reset false), or a snapshot to start over from (Reset true).
type Pulled struct {
	Reset   bool
	Field   Field    // Epoch and Version always; Text only when Reset
	From    int64    // version before the first entry
	Entries [][]byte // raw log entries
}

// Pull returns the updates of field after version since under epoch.
func (s *Store) Pull(ctx context.Context, id, field, epoch string, since int64) (Pulled, error) {
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
	if kind == "reset" {
		out.Reset = true
		if len(res) > 3 {
			out.Field.Text, _ = res[3].(string)
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

// CommitState replaces the room state if it is still at rev, appends event
// to the timeline and publishes payload. It reports false when another
// change came first (reload and decide again) and ErrNoRoom when the room is
// gone.
func (s *Store) CommitState(ctx context.Context, id string, rev int64, state, event, payload []byte) (bool, error) {
	k := keys{id}
	n, err := commitStateScript.Run(ctx, s.rdb, []string{k.meta(), k.events()},
		rev, state, event, s.ttlms(), s.opt.MaxEvents, s.pubcmd(), k.channel(), payload).Int()
	if err != nil {
		return false, fmt.Errorf("store: commit state: %w", err)
	}
	if n < 0 {
		return false, ErrNoRoom
	}
	return n == 1, nil
}

// Versions returns the current version of each text field.
func (s *Store) Versions(ctx context.Context, id string, fields []string) (map[string]int64, error) {
	fs, err := s.Fields(ctx, id, fields)
	if err != nil {
		return nil, err
	}
	out := make(map[string]int64, len(fs))
	for f, v := range fs {
		out[f] = v.Version
	}
	return out, nil
}

// Events returns up to count timeline events, oldest first.
func (s *Store) Events(ctx context.Context, id string, count int64) ([][]byte, error) {
	xs, err := s.rdb.XRangeN(ctx, keys{id}.events(), "-", "+", count).Result()
	if err != nil {
		return nil, fmt.Errorf("store: read timeline: %w", err)
	}
	out := make([][]byte, 0, len(xs))
	for _, x := range xs {
		if e, ok := x.Values["e"].(string); ok {
			out = append(out, []byte(e))
		}
	}
	return out, nil
}

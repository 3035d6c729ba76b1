package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"repairroom/internal/limits"
)

// ErrNoRoom is returned for a room that does not exist (never created,
// deleted, or expired).
var ErrNoRoom = errors.New("room does not exist")

// ErrRoomLost is returned for a room whose keys are gone although nobody
// deleted it (no tombstone): Redis lost its data (a wipe, a new empty
// replica). Its clients may hold checkpoints to restore it from. It does not
// wrap ErrNoRoom, so callers that close sockets as "deleted" do not.
var ErrRoomLost = errors.New("room data was lost by the store")

// ErrExists is returned by CreateRoom when the id is taken.
var ErrExists = errors.New("room id already exists")

// Options tune retention and sizes. The zero value is not useful: use
// DefaultOptions and change what you need.
type Options struct {
	TTL       time.Duration // retention of every room key, refreshed on writes
	MaxLog    int           // updates kept per field log; overrides Limits.LogEntries when set
	MaxEvents int           // approximate timeline length
	Sharded   bool          // Redis Cluster: SPUBLISH/SSUBSCRIBE per room
	// Limits: log and snapshot sizes, the room byte ceiling and the
	// per-seat insert budget (zero fields take limits.Default).
	Limits limits.Limits
}

// DefaultOptions: 30 days retention and the default limits.
func DefaultOptions() Options {
	return Options{TTL: 30 * 24 * time.Hour, MaxEvents: 10000, Limits: limits.Default()}
}

// Store is a room store on one Redis deployment (embedded, standalone or
// cluster, all through UniversalClient). It is safe for concurrent use.
type Store struct {
	rdb redis.UniversalClient
	opt Options
	lim limits.Limits

	pushes pushBatcher // pushes waiting for the next pipeline (pipeline.go)

	idMu          sync.Mutex // guards marker and runID
	marker, runID string     // the Redis identity last seen (IdentityChanged)
}

// New returns a Store using rdb.
func New(rdb redis.UniversalClient, opt Options) *Store {
	lim := opt.Limits.WithDefaults()
	if opt.MaxLog > 0 {
		lim.LogEntries = opt.MaxLog
	}
	if opt.TTL <= 0 {
		opt.TTL = lim.RoomTTL
	}
	if opt.MaxEvents <= 0 {
		opt.MaxEvents = 10000
	}
	return &Store{rdb: rdb, opt: opt, lim: lim}
}

// Limits returns the limits the store enforces.
func (s *Store) Limits() limits.Limits { return s.lim }

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
	Bytes    int64  // what the room stores in texts, logs and histories
}

// CreateRoom stores a new room with empty fields.
func (s *Store) CreateRoom(ctx context.Context, id, tpl, mode string, created time.Time, state, names []byte, fields []string) error {
	k := keys{id}
	ks := []string{k.meta(), k.tomb(), k.kept()}
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

// missing tells ErrNoRoom (deleted: tombstone present; or expired: its
// retention marker shows the deadline passed) from ErrRoomLost.
func (s *Store) missing(ctx context.Context, id string) error {
	k := keys{id}
	var tomb *redis.IntCmd
	var ttl *redis.StringCmd
	var left *redis.DurationCmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		tomb = p.Exists(ctx, k.tomb())
		ttl = p.Get(ctx, k.kept())
		left = p.PTTL(ctx, k.kept())
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("store: check tombstone: %w", err)
	}
	if tomb.Val() == 1 {
		return ErrNoRoom
	}
	if ms, err := strconv.ParseInt(ttl.Val(), 10, 64); err == nil && left.Val() >= 0 && left.Val() <= time.Duration(ms)*time.Millisecond+keptSlack {
		return ErrNoRoom // expired: its retention ran out
	}
	return ErrRoomLost
}

// keptSlack: a room whose keys are gone within this of their deadline
// counts as expired (Touch sets the marker just after the keys).
const keptSlack = 2 * time.Second

// expiredLua is the same test inside a script: true when the retention
// marker mk shows the room's deadline passed (its keys gone).
const expiredLua = `
local function expired(mk)
  local t = tonumber(redis.call('GET', mk) or '')
  if not t then return false end
  local left = redis.call('PTTL', mk)
  return left >= 0 and left <= t + 2000
end
`

// Meta loads a room's metadata and state.
func (s *Store) Meta(ctx context.Context, id string) (Meta, error) {
	var m Meta
	h, err := s.rdb.HGetAll(ctx, keys{id}.meta()).Result()
	if err != nil {
		return m, fmt.Errorf("store: load room: %w", err)
	}
	if len(h) == 0 {
		return m, s.missing(ctx, id)
	}
	m.Template, m.Mode, m.State, m.Names = h["tpl"], h["mode"], []byte(h["state"]), []byte(h["names"])
	m.Created, _ = time.Parse(time.RFC3339, h["created"])
	m.Bytes, _ = strconv.ParseInt(h["bytes"], 10, 64)
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
		return 0, s.missing(ctx, id)
	}
	return g, nil
}

// DeleteRoom removes every key of the room, leaves a tombstone (with the
// room's TTL) so the room reads as deleted rather than lost, and tells its
// subscribers, in one script.
func (s *Store) DeleteRoom(ctx context.Context, id string, fields []string, notice []byte) error {
	k := keys{id}
	ks := append(k.all(fields), k.kept(), k.tomb()) // the marker goes too: the tombstone says why
	if err := deleteRoomScript.Run(ctx, s.rdb, ks, s.ttlms(), s.pubcmd(), k.channel(), notice).Err(); err != nil {
		return fmt.Errorf("store: delete room: %w", err)
	}
	return nil
}

// Touch refreshes the retention TTL of every key of the room, so a field
// nobody wrote for weeks does not expire while the room lives on.
func (s *Store) Touch(ctx context.Context, id string, fields []string) error {
	// One script, which also reads the room's retention (retention.go): a
	// delete between renewing the meta and writing the retention marker
	// would otherwise leave a marker of a deleted room.
	k := keys{id}
	ks := append([]string{k.kept()}, k.all(fields)...)
	if err := touchRoomScript.Run(ctx, s.rdb, ks, s.ttlms()).Err(); err != nil {
		return fmt.Errorf("store: touch room: %w", err)
	}
	return nil
}

// Field is the canonical state of one collaborative text at its head.
type Field struct {
	Epoch   string `json:"epoch"`
	Version int64  `json:"version"`
	Text    string `json:"text"`
	// From is the epoch's lineage as stored (read it with Lineage,
	// field.go): earlier epochs whose text this one holds, and up to which
	// version. Empty for a field never moved. A string keeps Field
	// comparable.
	From string `json:"-"`
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
	Heads  map[string]Head // the same fields with what the push path needs
}

// Snapshot reads the room state and the given text fields in one round
// trip (the texts at their heads: snapshot plus log replay), recreating
// lost fields under a new epoch.
func (s *Store) Snapshot(ctx context.Context, id string, fields []string) (Snapshot, error) {
	k := keys{id}
	ks := []string{k.meta(), k.tomb(), k.kept()}
	for _, f := range fields {
		ks = append(ks, k.field(f), k.log(f))
	}
	res, err := ensureFieldsScript.Run(ctx, s.rdb, ks, s.ttlms(), NewEpoch()).Slice()
	if err != nil {
		return Snapshot{}, fmt.Errorf("store: load room snapshot: %w", err)
	}
	if len(res) == 1 {
		if st, _ := res[0].(string); st == "gone" {
			return Snapshot{}, ErrNoRoom
		}
		return Snapshot{}, ErrRoomLost
	}
	if len(res) < 4 {
		return Snapshot{}, fmt.Errorf("store: load room snapshot: %d values", len(res))
	}
	st, _ := res[1].(string)
	rs, _ := res[2].(string)
	gs, _ := res[3].(string)
	out := Snapshot{State: []byte(st), Fields: make(map[string]Field, len(fields)), Heads: make(map[string]Head, len(fields))}
	if out.Rev, err = strconv.ParseInt(rs, 10, 64); err != nil {
		return Snapshot{}, fmt.Errorf("store: room %s has a bad rev %q: %w", id, rs, err)
	}
	if out.Gen, err = strconv.ParseInt(gs, 10, 64); err != nil {
		return Snapshot{}, fmt.Errorf("store: room %s has a bad gen %q: %w", id, gs, err)
	}
	rest := res[4:]
	for _, f := range fields {
		h, n, err := headFrom(rest)
		if err != nil {
			return Snapshot{}, fmt.Errorf("store: field %s: %w", f, err)
		}
		rest = rest[n:]
		out.Fields[f] = h.Field
		out.Heads[f] = h
	}
	return out, nil
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
		return nil, 0, s.missing(ctx, id)
	}
	rev, err := strconv.ParseInt(rs, 10, 64)
	if err != nil {
		return nil, 0, fmt.Errorf("store: room %s has a bad rev %q: %w", id, rs, err)
	}
	return []byte(st), rev, nil
}

// CommitState replaces the room state if it is still at rev, appends event
// to the timeline and publishes payload. It reports false when another
// change came first (reload and decide again) and ErrNoRoom when the room is
// gone.
func (s *Store) CommitState(ctx context.Context, id string, rev int64, state, event, payload []byte) (bool, error) {
	k := keys{id}
	n, err := commitStateScript.Run(ctx, s.rdb, []string{k.meta(), k.events(), k.kept()},
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

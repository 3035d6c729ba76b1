package scenario_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"repairroom/internal/client"
	"repairroom/internal/redistest"
	"repairroom/internal/room"
	"repairroom/internal/testnode"
)

// origin is the one Origin every node allows, so a client can move between
// nodes (each node's default would be its own address).
const origin = "http://rooms.test"

// liveness bounds every wait: it fails a stuck test, it is not a timing
// assertion.
const liveness = 30 * time.Second

// cluster is several server nodes on one Redis.
type cluster struct {
	rdb   redis.UniversalClient
	nodes []*testnode.Node
}

func startCluster(t *testing.T, n int, o testnode.Options) *cluster {
	t.Helper()
	c := &cluster{rdb: redistest.Client(t)}
	o.AllowedOrigins = []string{origin}
	for i := 0; i < n; i++ {
		c.nodes = append(c.nodes, testnode.Start(t, c.rdb, o))
	}
	return c
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), liveness)
	t.Cleanup(cancel)
	return ctx
}

// dial connects role to the room through node first (the other nodes as
// fallbacks for reconnecting), recording every frame.
func (c *cluster) dial(t *testing.T, first int, r testnode.Room, role string, o client.Options) *client.Client {
	t.Helper()
	tok := r.Tokens[role]
	if tok == "" {
		t.Fatalf("room has no %s link", role)
	}
	for i, n := range c.nodes {
		if i != first {
			o.AltURLs = append(o.AltURLs, n.WSURL(r.ID, tok))
		}
	}
	o.Record = true
	cl, err := client.Dial(ctxFor(t), c.nodes[first].WSURL(r.ID, tok), origin, o)
	if err != nil {
		t.Fatalf("dial %s: %v", role, err)
	}
	t.Cleanup(func() { _ = cl.Close() })
	return cl
}

// fields reads texts from Redis.
func (c *cluster) fields(t *testing.T, roomID string, keys ...string) map[string]fieldState {
	t.Helper()
	fs, err := c.nodes[0].Store.Fields(ctxFor(t), roomID, keys)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]fieldState{}
	for k, f := range fs {
		out[k] = fieldState{Epoch: f.Epoch, Version: f.Version, Text: f.Text, From: f.From}
	}
	return out
}

type fieldState struct {
	Epoch   string
	Version int64
	Text    string
	From    string // the epoch's lineage as stored (store.Field.From)
}

// logEntry is one stored update, as internal/realtime writes it.
type logEntry struct {
	ClientID string          `json:"clientID"`
	Changes  json.RawMessage `json:"changes"`
	By       string          `json:"by"`
	At       json.Number     `json:"at"`
}

func (c *cluster) log(t *testing.T, roomID, key string) []logEntry {
	t.Helper()
	raw, err := c.rdb.LRange(ctxFor(t), fmt.Sprintf("rr:{%s}:log:%s", roomID, key), 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	out := make([]logEntry, len(raw))
	for i, r := range raw {
		if err := json.Unmarshal([]byte(r), &out[i]); err != nil {
			t.Fatalf("log entry %d of %s: %v", i, key, err)
		}
	}
	return out
}

// settle syncs every client, then waits until each one that holds key has
// caught up with Redis, and checks they all show Redis's text.
func (c *cluster) settle(t *testing.T, roomID, key string, cls ...*client.Client) fieldState {
	t.Helper()
	ctx := ctxFor(t)
	for _, cl := range cls {
		if err := cl.Sync(ctx); err != nil {
			t.Fatalf("sync: %v\n%s", err, cl)
		}
	}
	f := c.fields(t, roomID, key)[key]
	for _, cl := range cls {
		if !cl.Has(key) {
			continue
		}
		if err := cl.Wait(ctx, func() bool {
			text, v := cl.Confirmed(key)
			return v == f.Version && text == f.Text && cl.Epoch(key) == f.Epoch && cl.Text(key) == f.Text
		}); err != nil {
			text, v := cl.Confirmed(key)
			t.Fatalf("%s: client at v%d %q (local %q), Redis at v%d %q: %v\n%s", key, v, text, cl.Text(key), f.Version, f.Text, err, cl)
		}
	}
	return f
}

// waitIdentityChecks waits until every node noticed that Redis is not the
// data set it was. Each node checks after its own resubscription and then
// moves the fields it serves to new epochs: the other node's announcement
// (or a restore) may have moved the clients before this one got there, so
// Redis is final only once every node has checked.
func (c *cluster) waitIdentityChecks(t *testing.T) {
	t.Helper()
	ctx := ctxFor(t)
	for i, n := range c.nodes {
		for !strings.Contains(n.Log.String(), "Redis is not the data set it was") {
			if ctx.Err() != nil {
				t.Fatalf("node %d did not notice the new Redis", i)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// appendText types s at the end of key's local text.
func appendText(t *testing.T, cl *client.Client, key, s string) {
	t.Helper()
	err := cl.EditWith(key, func(text string) (int, int, string) {
		return utf16Len(text), 0, s
	})
	if err != nil {
		t.Fatalf("edit %s: %v", key, err)
	}
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}

// state decodes the room state a client last received.
func state(t *testing.T, cl *client.Client) room.State {
	t.Helper()
	var s room.State
	if err := json.Unmarshal(cl.Room(), &s); err != nil {
		t.Fatalf("room state %s: %v", cl.Room(), err)
	}
	return s
}

// waitState waits until the client's room state satisfies ok.
func waitState(t *testing.T, cl *client.Client, what string, ok func(room.State) bool) room.State {
	t.Helper()
	var last room.State
	err := cl.Wait(ctxFor(t), func() bool {
		var s room.State
		if json.Unmarshal(cl.Room(), &s) != nil {
			return false
		}
		last = s
		return ok(s)
	})
	if err != nil {
		t.Fatalf("waiting for %s: %v; last state %+v", what, err, last)
	}
	return last
}

func codeOf(err error) string {
	var se *client.ServerError
	if errors.As(err, &se) {
		return se.Code
	}
	return ""
}

// act performs an act that must succeed.
func act(t *testing.T, cl *client.Client, a map[string]any) {
	t.Helper()
	if _, err := cl.Act(ctxFor(t), a); err != nil {
		t.Fatalf("act %v: %v", a, err)
	}
}

// refuseAct performs an act that must be refused with code.
func refuseAct(t *testing.T, cl *client.Client, code string, a map[string]any) {
	t.Helper()
	_, err := cl.Act(ctxFor(t), a)
	if got := codeOf(err); got != code {
		t.Fatalf("act %v: want %s, got %v", a, code, err)
	}
}

// rawPush sends one push of an insertion at 0 for key, at the client's
// epoch and version (or any, for a key it does not hold), outside the
// client's own bookkeeping, and returns the error code it got ("" for an
// ack).
func rawPush(t *testing.T, cl *client.Client, key, insert string) string {
	t.Helper()
	epoch := cl.Epoch(key)
	if epoch == "" {
		epoch = "unknown"
	}
	text, version := cl.Confirmed(key)
	changes := fmt.Sprintf(`[[0,%q]]`, insert)
	if n := utf16Len(text); n > 0 {
		changes = fmt.Sprintf(`[[0,%q],%d]`, insert, n)
	}
	raw, err := cl.Request(ctxFor(t), map[string]any{"t": "push", "field": key, "epoch": epoch, "version": version,
		"updates": []any{map[string]any{"clientID": "raw-" + cl.ClientID(), "changes": json.RawMessage(changes)}}})
	if err != nil {
		if c := codeOf(err); c != "" {
			return c
		}
		t.Fatalf("push %s: %v", key, err)
	}
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	if m["t"] != "ack" {
		t.Fatalf("push %s: %s", key, raw)
	}
	return ""
}

// syncRefused edits key and expects the push to be refused with code; the
// edit stays pending in the client.
func syncRefused(t *testing.T, cl *client.Client, key, text, code string) {
	t.Helper()
	appendText(t, cl, key, text)
	err := cl.Sync(ctxFor(t))
	if got := codeOf(err); got != code {
		t.Fatalf("push to %s: want %s, got %v", key, code, err)
	}
}

// noLeak checks that none of the frames a client received mentions the
// moderator's notes: neither their text nor even the field's id.
func noLeak(t *testing.T, who string, cl *client.Client, secrets ...string) {
	t.Helper()
	frames := cl.Frames()
	if len(frames) == 0 {
		t.Fatalf("%s recorded no frames", who)
	}
	for _, f := range frames {
		for _, s := range append([]string{`"notes"`}, secrets...) {
			if strings.Contains(string(f), s) {
				t.Fatalf("%s received %q in %s", who, s, f)
			}
		}
	}
}

// atoms are what random edits insert: ASCII, an emoji with a skin tone
// (two astral code points), combining marks, CJK, other astral
// characters, line breaks.
var atoms = []string{"a", "b", "k", " ", " ", "\n", "👍🏽", "e\u0301", "o\u0308\u0323", "漢字", "한", "😀", "𝄞", "é", `"`, "\t"}

// randomEdit chooses an edit of text at code point boundaries.
func randomEdit(r *rand.Rand, text string) (pos, del int, insert string) {
	bounds := []int{0}
	n := 0
	for _, c := range text {
		if c >= 0x10000 {
			n += 2
		} else {
			n++
		}
		bounds = append(bounds, n)
	}
	i := r.IntN(len(bounds))
	pos = bounds[i]
	if len(bounds) > 1 && r.IntN(3) == 0 {
		if j := i + 1 + r.IntN(4); j < len(bounds) {
			del = bounds[j] - pos
		}
	}
	if del == 0 || r.IntN(2) == 0 {
		var b strings.Builder
		for k := r.IntN(3); k >= 0; k-- {
			b.WriteString(atoms[r.IntN(len(atoms))])
		}
		insert = b.String()
	}
	return pos, del, insert
}

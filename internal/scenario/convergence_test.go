package scenario_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"repairroom/internal/changeset"
	"repairroom/internal/client"
	"repairroom/internal/testnode"
)

// Sizes of the convergence run: rooms × 3 writers, each making
// editsPerClient edits with a disconnect now and then.
const (
	editsPerClient = 60
	dropEvery      = 12 // about one abrupt disconnect per this many edits
)

// writer is one client of the convergence run and what it did.
type writer struct {
	role  string
	cl    *client.Client
	own   []string // keys it writes besides the shared one
	edits map[string]int
	drops int
}

// TestConcurrentEditorsConverge is the acceptance test of collaborative
// text: two nodes on one Redis; three rooms (two self-guided with both
// partners and a second partner_a connection, one guided with the
// moderator as third writer), each writer on either node, all typing
// random edits (emoji with skin tones, combining marks, CJK, line breaks,
// deletions) into the shared field and their own ones at once, while
// sockets are cut abruptly and, halfway, one node is shut down so its
// clients move to the other. In the end every client shows Redis's text,
// the log replays to it, and every edit — acknowledged or not — is in the
// log exactly once, where its author saw it confirmed.
func TestConcurrentEditorsConverge(t *testing.T) {
	cl := startCluster(t, 2, testnode.Options{})
	type roomSpec struct {
		mode  string
		roles []string
	}
	specs := []roomSpec{
		{"self", []string{"partner_a", "partner_b", "partner_a"}},
		{"self", []string{"partner_a", "partner_b", "partner_a"}},
		{"guided", []string{"partner_a", "partner_b", "moderator"}},
	}
	ownKeys := map[string][]string{
		"partner_a": {"appreciated.partner_a"},
		"partner_b": {"appreciated.partner_b"},
		"moderator": {"notes"},
	}
	type roomRun struct {
		r       testnode.Room
		writers []*writer
	}
	var runs []*roomRun
	var all []*writer
	i := 0
	for _, sp := range specs {
		run := &roomRun{r: cl.nodes[0].CreateRoom(t, "checkin", sp.mode)}
		for _, role := range sp.roles {
			w := &writer{role: role, own: ownKeys[role], edits: map[string]int{},
				cl: cl.dial(t, i%2, run.r, role, client.Options{AutoReconnect: true, MaxBackoff: 200 * time.Millisecond})}
			run.writers = append(run.writers, w)
			all = append(all, w)
			i++
		}
		runs = append(runs, run)
	}

	var typed atomic.Int64
	half := int64(len(all) * editsPerClient / 2)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for typed.Load() < half {
			time.Sleep(time.Millisecond)
		}
		start := time.Now()
		cl.nodes[1].Stop() // drains: its sockets close with 1001
		t.Logf("node stopped in %v", time.Since(start))
	}()
	var wg sync.WaitGroup
	for n, w := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(7, uint64(n)))
			for e := 0; e < editsPerClient; e++ {
				key := "wins"
				if r.IntN(10) < 3 {
					key = w.own[r.IntN(len(w.own))]
				}
				var made bool
				err := w.cl.EditWith(key, func(text string) (int, int, string) {
					pos, del, ins := randomEdit(r, text)
					made = del > 0 || ins != ""
					return pos, del, ins
				})
				if err != nil {
					t.Errorf("%s edit: %v", w.role, err)
					return
				}
				if made {
					w.edits[key]++
				}
				typed.Add(1)
				if r.IntN(dropEvery) == 0 && w.cl.Drop() {
					w.drops++
				}
				time.Sleep(time.Duration(r.IntN(3000)) * time.Microsecond)
			}
		}()
	}
	wg.Wait()
	<-stopped
	if t.Failed() {
		return
	}

	ctx := ctxFor(t)
	for _, w := range all {
		if err := w.cl.Sync(ctx); err != nil {
			t.Fatalf("%s sync: %v\n%s", w.role, err, w.cl)
		}
	}
	drops, reconnects, acks, edits, behinds := 0, 0, 0, 0, 0
	for _, run := range runs {
		keys := []string{"wins", "appreciated.partner_a", "appreciated.partner_b", "notes"}
		for _, key := range keys {
			var writers []*client.Client
			for _, w := range run.writers {
				writers = append(writers, w.cl)
			}
			f := cl.settle(t, run.r.ID, key, writers...)
			checkLog(t, cl, run.r.ID, key, f, run.writers)
		}
		for _, w := range run.writers {
			if w.cl.Pending() != 0 {
				t.Fatalf("%s still has %d pending updates", w.role, w.cl.Pending())
			}
			if a := w.cl.Anomalies(); a != 0 {
				t.Errorf("%s met %d frames that did not fit", w.role, a)
			}
			for _, f := range w.cl.Frames() {
				if strings.HasPrefix(string(f), `{"t":"behind"`) {
					behinds++
				}
			}
			drops += w.drops
			reconnects += w.cl.Connects() - 1
			acks += len(w.cl.Acks())
			for _, n := range w.edits {
				edits += n
			}
		}
	}
	t.Logf("%d rooms, %d clients, %d edits, %d pushes acknowledged, %d answered behind, %d abrupt disconnects + 1 node stopped, %d reconnections",
		len(runs), len(all), edits, acks, behinds, drops, reconnects)
	// Every client that started on the stopped node moved to the other.
	moved := 0
	for i, w := range all {
		if !strings.HasPrefix(w.cl.URL(), strings.Replace(cl.nodes[0].URL, "http", "ws", 1)) {
			t.Fatalf("%s ends on %s, not on the node still running", w.role, w.cl.URL())
		}
		if i%2 == 1 {
			moved++
		}
	}
	if reconnects < drops || moved == 0 {
		t.Fatalf("%d reconnections for %d drops, %d clients moved", reconnects, drops, moved)
	}
}

// checkLog checks the Redis log of key against the field and the writers:
// its length is the version, it replays to the text, each writer's edits
// are in it exactly once (as many entries with its clientID as it made
// edits), each confirmation it saw is the entry at that version, and every
// acknowledged push covers entries of its own, claimed by no other ack.
func checkLog(t *testing.T, cl *cluster, roomID, key string, f fieldState, writers []*writer) {
	t.Helper()
	log := cl.log(t, roomID, key)
	if int64(len(log)) != f.Version {
		t.Fatalf("%s: %d log entries for version %d", key, len(log), f.Version)
	}
	text := ""
	byClient := map[string]int{}
	for i, e := range log {
		cs, err := changeset.Parse(e.Changes)
		if err != nil {
			t.Fatalf("%s entry %d: %v", key, i, err)
		}
		if text, err = cs.Apply(text); err != nil {
			t.Fatalf("%s entry %d does not apply: %v", key, i, err)
		}
		byClient[e.ClientID]++
	}
	if text != f.Text {
		t.Fatalf("%s: the log replays to %q, the field holds %q", key, text, f.Text)
	}
	claimed := map[int64]string{}
	total := 0
	for _, w := range writers {
		id := w.cl.ClientID()
		// An edit that concurrent deletions emptied is dropped unsent.
		if want := w.edits[key] - w.cl.Emptied(key); byClient[id] != want {
			t.Fatalf("%s: %s made %d edits (%d emptied by others' deletions), the log holds %d of its updates", key, w.role, w.edits[key], w.cl.Emptied(key), byClient[id])
		}
		total += w.edits[key] - w.cl.Emptied(key)
		n := 0
		for _, c := range w.cl.Confirmations() {
			if c.Field != key {
				continue
			}
			n++
			e := log[c.Version-1]
			if e.ClientID != id || string(e.Changes) != string(c.Changes) {
				t.Fatalf("%s: %s saw %s confirmed at %d, the log has %s %s", key, w.role, c.Changes, c.Version, e.ClientID, e.Changes)
			}
		}
		if n != w.edits[key]-w.cl.Emptied(key) {
			t.Fatalf("%s: %s saw %d of its %d edits (%d emptied) confirmed", key, w.role, n, w.edits[key], w.cl.Emptied(key))
		}
		for _, a := range w.cl.Acks() {
			if a.Field != key {
				continue
			}
			// The server rebases a push that is behind and drops what it
			// already accepted, so only the last update of an acknowledged
			// push is known to sit at the acked version.
			for v := a.Version - 1; v < a.Version; v++ {
				if log[v].ClientID != id {
					t.Fatalf("%s: %s was acknowledged version %d, written by %s", key, w.role, v+1, log[v].ClientID)
				}
				if other, dup := claimed[v]; dup {
					t.Fatalf("%s: version %d acknowledged to %s and %s", key, v+1, other, w.role)
				}
				claimed[v] = fmt.Sprintf("%s/%s", w.role, id)
			}
		}
	}
	if total != len(log) {
		t.Fatalf("%s: %d edits, %d log entries", key, total, len(log))
	}
}

package client

import (
	"math/rand/v2"
	"testing"

	"repairroom/internal/changeset"
)

// TestPendingMappedLikeTheServer: however the partner's updates arrive
// (in one frame or several), the client's pending updates end up exactly as
// the server's rebase (changeset.RebaseEach) makes them; with a composed
// mapping (changeset.Rebase) about 3% of such cases differ, which is why
// both sides go one update at a time.
func TestPendingMappedLikeTheServer(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	atoms := []string{"a", "b", "c", "d"}
	edit := func(d *doc, id string) {
		n := len(d.text)
		pos := r.IntN(n + 1)
		del := 0
		if pos < n && r.IntN(2) == 0 {
			del = 1 + r.IntN(min(3, n-pos))
		}
		ins := ""
		if del == 0 || r.IntN(2) == 0 {
			ins = atoms[r.IntN(4)] + atoms[r.IntN(4)]
		}
		if err := d.edit(id, pos, del, ins); err != nil {
			t.Fatal(err)
		}
	}
	bad := 0
	const cases = 3000
	for c := 0; c < cases; c++ {
		base := FieldSnapshot{Epoch: "e", Version: 5, Text: "abcdefgh"}
		me, them := newDoc("f", base), newDoc("f", base)
		for range 1 + r.IntN(4) {
			edit(me, "me")
		}
		for range 2 + r.IntN(4) {
			edit(them, "them")
		}
		mine := make([]changeset.Update, len(me.pending))
		for i, p := range me.pending {
			mine[i] = changeset.Update{ClientID: p.clientID, Changes: p.changes}
		}
		var over []changeset.Update
		var w []wireUpdate
		for _, p := range them.pending {
			over = append(over, changeset.Update{ClientID: p.clientID, Changes: p.changes})
			w = append(w, wireUpdate{ClientID: p.clientID, Changes: p.raw})
		}
		server, err := changeset.RebaseEach(mine, over)
		if err != nil {
			t.Fatal(err)
		}
		// The client receives theirs in two batches.
		k := 1 + r.IntN(len(w)-1)
		if _, err := me.receive(5, w[:k]); err != nil {
			t.Fatal(err)
		}
		if _, err := me.receive(5+int64(k), w[k:]); err != nil {
			t.Fatal(err)
		}
		for i, p := range me.pending {
			a, _ := p.changes.MarshalJSON()
			b, _ := server[i].Changes.MarshalJSON()
			if string(a) != string(b) {
				bad++
				if bad < 4 {
					t.Errorf("case %d: client %s server %s", c, a, b)
				}
				break
			}
		}
	}
	if bad > 0 {
		t.Fatalf("%d of %d cases: the client's mapped pending differ from the server's rebase", bad, cases)
	}
}

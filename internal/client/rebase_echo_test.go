package client

import (
	"math/rand/v2"
	"testing"

	"repairroom/internal/changeset"
)

// TestEchoOfARebasedPushConfirms: the server rebases our pending updates
// over a partner's (changeset.RebaseEach) and sends
// the partner's updates followed by ours, mapped: receive must confirm
// ours by clientID and leave the local text equal to the server's.
func TestEchoOfARebasedPushConfirms(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	atoms := []string{"a", "b", "😀", "漢", "\n", "👍🏽", "é"}
	word := func() string {
		s := ""
		for range 1 + r.IntN(3) {
			s += atoms[r.IntN(len(atoms))]
		}
		return s
	}
	edit := func(d *doc, id string) {
		bounds := []int{0}
		n := 0
		for _, c := range d.text {
			if c >= 0x10000 {
				n += 2
			} else {
				n++
			}
			bounds = append(bounds, n)
		}
		i := r.IntN(len(bounds))
		del := 0
		if j := i + r.IntN(3); j < len(bounds) && r.IntN(2) == 0 {
			del = bounds[j] - bounds[i]
		}
		ins := ""
		if del == 0 || r.IntN(2) == 0 {
			ins = word()
		}
		if err := d.edit(id, bounds[i], del, ins); err != nil {
			t.Fatal(err)
		}
	}
	for c := 0; c < 2000; c++ {
		base := FieldSnapshot{Epoch: "e", Version: 5, Text: "start 😀 text"}
		me, them := newDoc("f", base), newDoc("f", base)
		for range 1 + r.IntN(4) {
			edit(me, "me")
		}
		for range 1 + r.IntN(4) {
			edit(them, "them")
		}
		// The server took theirs first, then rebased ours over them.
		over := make([]changeset.Update, len(them.pending))
		var batch []wireUpdate
		for i, p := range them.pending {
			over[i] = changeset.Update{ClientID: p.clientID, Changes: p.changes}
			batch = append(batch, wireUpdate{ClientID: p.clientID, Changes: p.raw})
		}
		mine := make([]changeset.Update, len(me.pending))
		for i, p := range me.pending {
			mine[i] = changeset.Update{ClientID: p.clientID, Changes: p.changes}
		}
		rebased, err := changeset.RebaseEach(mine, over)
		if err != nil {
			t.Fatal(err)
		}
		server := them.text
		for _, u := range rebased {
			raw, _ := u.Changes.MarshalJSON()
			batch = append(batch, wireUpdate{ClientID: u.ClientID, Changes: raw})
			if server, err = u.Changes.Apply(server); err != nil {
				server = "" // split pair: the server would refuse; skip the case
				break
			}
		}
		if server == "" && err != nil {
			continue
		}
		before := me.text
		if _, err := me.receive(5, batch); err != nil {
			t.Fatalf("case %d: receive: %v", c, err)
		}
		if len(me.pending) != 0 || me.confirmed != server || me.text != server {
			t.Fatalf("case %d: pending %d, confirmed %q, text %q, server %q (local before %q, theirs %q)", c, len(me.pending), me.confirmed, me.text, server, before, them.text)
		}
	}
}

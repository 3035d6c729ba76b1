package client

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"repairroom/internal/changeset"
)

// fakeServer is the protocol's authority in memory, with the server's rules
// (accept a push only at the current version, answer behind with the missed
// updates, reset on another epoch) and its delivery: each connection gets
// direct replies and fanned-out updates through two FIFO queues that the
// simulation interleaves at random, and fan-out may be lost (as pub/sub is
// across a resubscription; heads then tells the client).
type fakeServer struct {
	t      *testing.T
	fields map[string]*fakeField
	peers  []*peer
	epochs int
	stats  *simStats
}

// simStats counts the paths a simulation went through, so the test can
// show it exercised them.
type simStats struct{ behind, reset, lostReplies, lostFanout int }

type fakeField struct {
	epoch   string
	version int64
	text    string
	log     []wireUpdate
}

// peer is one session and its (simulated) connection.
type peer struct {
	s      *session
	online bool
	toSrv  [][]byte // sent, not yet handled by the server
	direct [][]byte // replies, not yet received
	bus    [][]byte // fan-out, not yet received
	edits  map[string]int
}

func newFakeServer(t *testing.T, keys ...string) *fakeServer {
	srv := &fakeServer{t: t, fields: map[string]*fakeField{}}
	for _, k := range keys {
		srv.fields[k] = &fakeField{epoch: srv.newEpoch()}
	}
	return srv
}

func (srv *fakeServer) newEpoch() string {
	srv.epochs++
	return fmt.Sprintf("e%d", srv.epochs)
}

func enc(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func (srv *fakeServer) welcome() []byte {
	fs := map[string]FieldSnapshot{}
	for k, f := range srv.fields {
		fs[k] = FieldSnapshot{Epoch: f.epoch, Version: f.version, Text: f.text}
	}
	return enc(map[string]any{"t": "welcome", "v": 1, "me": Me{ID: "x", Role: "partner_a"}, "room": map[string]any{"rev": 0}, "fields": fs})
}

func (srv *fakeServer) addPeer(id string) *peer {
	p := &peer{s: newSession(id, true), edits: map[string]int{}}
	srv.peers = append(srv.peers, p)
	srv.connect(p, time.Time{})
	return p
}

func (srv *fakeServer) connect(p *peer, now time.Time) {
	p.online, p.s.online = true, true
	p.s.handle(srv.welcome(), now)
	p.toSrv = append(p.toSrv, p.s.take()...)
}

func (srv *fakeServer) disconnect(p *peer) {
	srv.stats.lostReplies += len(p.direct)
	p.online = false
	p.toSrv, p.direct, p.bus = nil, nil, nil
	p.s.disconnected()
}

// serve handles one message from p, as internal/realtime does.
func (srv *fakeServer) serve(p *peer, raw []byte) {
	var m struct {
		T       string       `json:"t"`
		ID      string       `json:"id"`
		Field   string       `json:"field"`
		Epoch   string       `json:"epoch"`
		Version int64        `json:"version"`
		Since   int64        `json:"since"`
		Updates []wireUpdate `json:"updates"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		srv.t.Fatalf("client sent %s: %v", raw, err)
	}
	f := srv.fields[m.Field]
	if f == nil {
		srv.t.Fatalf("client sent %s for an unknown field", raw)
	}
	reset := func() {
		srv.stats.reset++
		p.direct = append(p.direct, enc(map[string]any{"t": "reset", "re": m.ID, "field": m.Field, "epoch": f.epoch, "version": f.version, "text": f.text}))
	}
	switch m.T {
	case "pull":
		if m.Epoch != f.epoch || m.Since > f.version {
			reset()
			return
		}
		p.direct = append(p.direct, enc(map[string]any{"t": "updates", "re": m.ID, "field": m.Field, "epoch": f.epoch, "from": m.Since, "updates": f.log[m.Since:]}))
	case "push":
		noop := true
		for _, u := range m.Updates {
			cs, err := changeset.Parse(u.Changes)
			noop = noop && err == nil && cs.Empty()
		}
		switch {
		case noop:
			// internal/realtime refuses a push that changes nothing.
			srv.t.Errorf("client pushed only updates that change nothing: %s", raw)
			p.direct = append(p.direct, enc(map[string]any{"t": "error", "re": m.ID, "code": "bad_changes", "message": "the push changes nothing"}))
		case m.Epoch != f.epoch || m.Version > f.version:
			reset()
		case m.Version < f.version:
			srv.stats.behind++
			p.direct = append(p.direct, enc(map[string]any{"t": "behind", "re": m.ID, "field": m.Field, "version": f.version}))
			p.direct = append(p.direct, enc(map[string]any{"t": "updates", "field": m.Field, "epoch": f.epoch, "from": m.Version, "updates": f.log[m.Version:]}))
		default:
			text := f.text
			for i, u := range m.Updates {
				cs, err := changeset.Parse(u.Changes)
				if err != nil {
					srv.t.Fatalf("update %d of %s: %v", i, raw, err)
				}
				if text, err = cs.Apply(text); err != nil {
					srv.t.Fatalf("update %d of %s does not fit %q: %v", i, raw, text, err)
				}
			}
			from := f.version
			f.text = text
			f.log = append(f.log, m.Updates...)
			f.version += int64(len(m.Updates))
			p.direct = append(p.direct, enc(map[string]any{"t": "ack", "re": m.ID, "field": m.Field, "version": f.version}))
			ups := enc(map[string]any{"t": "updates", "field": m.Field, "epoch": f.epoch, "from": from, "updates": m.Updates})
			for _, q := range srv.peers {
				if q.online {
					q.bus = append(q.bus, ups)
				}
			}
		}
	default:
		srv.t.Fatalf("unexpected message %s", raw)
	}
}

func (srv *fakeServer) heads() []byte {
	fs := map[string]FieldSnapshot{}
	for k, f := range srv.fields {
		fs[k] = FieldSnapshot{Epoch: f.epoch, Version: f.version}
	}
	return enc(map[string]any{"t": "heads", "fields": fs})
}

// deliver hands p one queued frame (a reply or a fan-out, at random).
func (srv *fakeServer) deliver(r *rand.Rand, p *peer, now time.Time) bool {
	var raw []byte
	switch {
	case len(p.direct) > 0 && (len(p.bus) == 0 || r.IntN(2) == 0):
		raw, p.direct = p.direct[0], p.direct[1:]
	case len(p.bus) > 0:
		raw, p.bus = p.bus[0], p.bus[1:]
	default:
		return false
	}
	p.s.handle(raw, now)
	p.toSrv = append(p.toSrv, p.s.take()...)
	return true
}

func checkSession(t *testing.T, s *session) {
	t.Helper()
	for _, d := range s.fields {
		if err := d.check(); err != nil {
			t.Fatal(err)
		}
	}
}

var atoms = []string{"a", "b", "z", " ", "\n", "👍🏽", "e\u0301", "漢字", "😀", "é", "\t", `"`}

// randomEdit picks an edit on text at code point boundaries: insertions of
// random atoms (emoji with skin tone, combining marks, CJK, line breaks)
// and deletions.
func randomEdit(r *rand.Rand, text string) (pos, del int, insert string) {
	var bounds []int // UTF-16 offsets of code point boundaries
	n := 0
	bounds = append(bounds, 0)
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
		j := i + 1 + r.IntN(min(4, len(bounds)-i))
		if j < len(bounds) {
			del = bounds[j] - pos
		}
	}
	var b strings.Builder
	for k := r.IntN(4); k >= 0; k-- {
		b.WriteString(atoms[r.IntN(len(atoms))])
	}
	if del == 0 || r.IntN(2) == 0 {
		insert = b.String()
	}
	return pos, del, insert
}

func TestSimulatedAuthorityConverges(t *testing.T) {
	var st simStats
	for seed := uint64(1); seed <= 30; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { simulate(t, seed, seed%4 == 0, &st) })
	}
	t.Logf("%+v", st)
	if st.behind == 0 || st.reset == 0 || st.lostReplies == 0 || st.lostFanout == 0 {
		t.Fatalf("the simulation missed a path: %+v", st)
	}
}

// simulate runs three sessions against the fake authority with random
// edits, delivery orders, disconnects, lost fan-out and (when rebuild)
// fields lost and recreated under a new epoch, then checks that everyone
// converged on the server's text and that every edit is in the log once.
func simulate(t *testing.T, seed uint64, rebuild bool, st *simStats) {
	r := rand.New(rand.NewPCG(seed, 99))
	keys := []string{"wins", "hard"}
	srv := newFakeServer(t, keys...)
	srv.stats = st
	for i := 0; i < 3; i++ {
		srv.addPeer(fmt.Sprintf("c%d", i))
	}
	now := time.Unix(1000, 0)
	rebuilt := false
	for step := 0; step < 1200; step++ {
		now = now.Add(10 * time.Millisecond)
		p := srv.peers[r.IntN(len(srv.peers))]
		switch k := r.IntN(100); {
		case k < 30:
			key := keys[r.IntN(len(keys))]
			d := p.s.fields[key]
			pos, del, ins := randomEdit(r, d.text)
			if err := p.s.edit(key, pos, del, ins); err != nil {
				t.Fatalf("edit: %v", err)
			}
			if del > 0 || ins != "" {
				p.edits[key]++
			}
			p.s.pump(now)
			if p.online {
				p.toSrv = append(p.toSrv, p.s.take()...)
			}
		case k < 55:
			if p.online && len(p.toSrv) > 0 {
				m := p.toSrv[0]
				p.toSrv = p.toSrv[1:]
				srv.serve(p, m)
			}
		case k < 90:
			if p.online {
				srv.deliver(r, p, now)
			}
		case k < 92:
			if p.online && len(p.bus) > 0 {
				p.bus = p.bus[1:] // fan-out lost
				srv.stats.lostFanout++
			}
		case k < 94:
			if p.online {
				srv.disconnect(p)
			} else {
				srv.connect(p, now)
			}
		case k < 96:
			if p.online {
				p.direct = append(p.direct, srv.heads())
			}
		case k < 97 && rebuild && !rebuilt:
			// The field's data is lost and recreated empty.
			key := keys[r.IntN(len(keys))]
			srv.fields[key] = &fakeField{epoch: srv.newEpoch()}
			rebuilt = true
		default:
			if p.online {
				p.s.tick(now)
				p.toSrv = append(p.toSrv, p.s.take()...)
			}
		}
		checkSession(t, p.s)
	}
	// Quiesce: everyone online, everything delivered, safety nets given time.
	for _, p := range srv.peers {
		if !p.online {
			srv.connect(p, now)
		}
	}
	for round := 0; ; round++ {
		if round > 200 {
			for _, p := range srv.peers {
				t.Logf("%s: %+v", p.s.clientID, p.s.fields["wins"])
			}
			t.Fatal("no convergence")
		}
		busy := true
		for busy {
			busy = false
			for _, p := range srv.peers {
				for len(p.toSrv) > 0 {
					m := p.toSrv[0]
					p.toSrv = p.toSrv[1:]
					srv.serve(p, m)
					busy = true
				}
				for srv.deliver(r, p, now) {
					busy = true
				}
			}
		}
		done := true
		for _, p := range srv.peers {
			for k, f := range srv.fields {
				d := p.s.fields[k]
				if len(d.pending) > 0 || d.inFlight != "" || d.epoch != f.epoch || d.version != f.version {
					done = false
				}
			}
		}
		if done {
			break
		}
		now = now.Add(2 * time.Second)
		for _, p := range srv.peers {
			p.direct = append(p.direct, srv.heads())
			p.s.tick(now)
			p.toSrv = append(p.toSrv, p.s.take()...)
		}
	}
	for _, p := range srv.peers {
		checkSession(t, p.s)
		if p.s.anomalies != 0 {
			t.Errorf("%s: %d anomalies", p.s.clientID, p.s.anomalies)
		}
		for k, f := range srv.fields {
			if got := p.s.fields[k].text; got != f.text {
				t.Fatalf("%s %s: %q, server %q", p.s.clientID, k, got, f.text)
			}
		}
	}
	for k, f := range srv.fields {
		// The log replays to the text, and each client's edits are in it
		// exactly once, as it confirmed them.
		text := ""
		count := map[string]int{}
		for i, u := range f.log {
			cs, err := changeset.Parse(u.Changes)
			if err != nil {
				t.Fatal(err)
			}
			if text, err = cs.Apply(text); err != nil {
				t.Fatalf("%s log entry %d: %v", k, i, err)
			}
			count[u.ClientID]++
		}
		if text != f.text {
			t.Fatalf("%s: log replays to %q, text %q", k, text, f.text)
		}
		if rebuilt {
			continue // edits confirmed before the loss are gone with it
		}
		for _, p := range srv.peers {
			// Edits that mapping emptied before they were sent are dropped.
			made := p.edits[k] - p.s.emptied[k]
			if count[p.s.clientID] != made {
				t.Fatalf("%s: %s made %d edits (%d emptied), the log holds %d", k, p.s.clientID, p.edits[k], p.s.emptied[k], count[p.s.clientID])
			}
			n := 0
			for _, c := range p.s.confirmations {
				if c.Field != k {
					continue
				}
				n++
				e := f.log[c.Version-1]
				if e.ClientID != c.ClientID || string(e.Changes) != string(c.Changes) {
					t.Fatalf("%s: confirmation %+v, log has %s %s", k, c, e.ClientID, e.Changes)
				}
			}
			if n != made {
				t.Fatalf("%s: %s has %d confirmations for %d edits", k, p.s.clientID, n, made)
			}
			for _, a := range p.s.acks {
				if a.Field != k {
					continue
				}
				for v := a.Version - int64(a.Count); v < a.Version; v++ {
					if f.log[v].ClientID != p.s.clientID {
						t.Fatalf("%s: ack %+v but entry %d is %s's", k, a, v, f.log[v].ClientID)
					}
				}
			}
		}
	}
}

package changeset

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"testing"
)

// wireUpdate is an update as collab sends it.
type wireUpdate struct {
	ClientID string          `json:"clientID"`
	Changes  json.RawMessage `json:"changes"`
}

type rebaseCase struct {
	Updates []wireUpdate `json:"updates"`
	Over    []wireUpdate `json:"over"`
	Each    bool         `json:"each,omitempty"` // RebaseEach: one accepted update at a time
}

type rebaseAnswer struct {
	Error   string       `json:"error"`
	Updates []wireUpdate `json:"updates"`
}

// genRebaseCase plays a server and a client that is behind: the client
// made a chain of local updates on doc; meanwhile the server accepted
// other clients' updates and, possibly, a prefix of the client's own
// chain (rebased when it was accepted, as the server does). The question
// is what the client's whole chain becomes when it is pushed again.
func genRebaseCase(r *rand.Rand) rebaseCase {
	doc := randDoc(r)
	mine := make([]Update, 0, 4)
	cur := doc
	for range 1 + r.IntN(4) {
		cs := parseOrPanic(randChangesJSON(r, UTF16Len(cur)))
		next, err := cs.Apply(cur)
		if err != nil { // a split surrogate pair: stop the chain here
			break
		}
		mine = append(mine, Update{ClientID: "me", Changes: cs})
		cur = next
	}
	if len(mine) == 0 {
		mine = append(mine, Update{ClientID: "me", Changes: Unchanged(UTF16Len(doc))})
	}
	var over []Update
	server := UTF16Len(doc)
	accepted := 0
	for range r.IntN(6) {
		if accepted < len(mine) && r.IntN(3) == 0 {
			// The client pushes its chain from its base again (it has not
			// seen the earlier ack); the server drops what it accepted.
			k := 1 + r.IntN(len(mine)-accepted)
			got, err := Rebase(mine[:accepted+k], over)
			if err != nil {
				panic(err)
			}
			for _, u := range got {
				over = append(over, u)
				server = u.Changes.LenAfter()
			}
			accepted += k
			continue
		}
		id := []string{"a", "b"}[r.IntN(2)]
		cs := parseOrPanic(randChangesJSON(r, server))
		over = append(over, Update{ClientID: id, Changes: cs})
		server = cs.LenAfter()
	}
	c := rebaseCase{Updates: toWire(mine), Over: toWire(over)}
	return c
}

func toWire(us []Update) []wireUpdate {
	out := make([]wireUpdate, len(us))
	for i, u := range us {
		b, err := u.Changes.MarshalJSON()
		if err != nil {
			panic(err)
		}
		out[i] = wireUpdate{ClientID: u.ClientID, Changes: b}
	}
	return out
}

func fromWire(t *testing.T, ws []wireUpdate) []Update {
	t.Helper()
	out := make([]Update, len(ws))
	for i, w := range ws {
		cs, err := Parse(w.Changes)
		if err != nil {
			t.Fatalf("update %d %s: %v", i, w.Changes, err)
		}
		out[i] = Update{ClientID: w.ClientID, Changes: cs}
	}
	return out
}

func parseOrPanic(b []byte) ChangeSet {
	cs, err := Parse(b)
	if err != nil {
		panic(fmt.Sprintf("%s: %v", b, err))
	}
	return cs
}

func TestRebaseTable(t *testing.T) {
	cases := []struct {
		name          string
		updates, over string
		want          string
	}{
		{"nothing accepted since", `[{"clientID":"me","changes":[[0,"x"],3]}]`, `[]`, `[{"clientID":"me","changes":[[0,"x"],3]}]`},
		{"mapped over a partner's insert", `[{"clientID":"me","changes":[[0,"x"],3]}]`, `[{"clientID":"p","changes":[3,[0,"yy"]]}]`, `[{"clientID":"me","changes":[[0,"x"],5]}]`},
		{"insert at the same place goes after", `[{"clientID":"me","changes":[1,[0,"x"],2]}]`, `[{"clientID":"p","changes":[1,[0,"y"],2]}]`, `[{"clientID":"me","changes":[2,[0,"x"],2]}]`},
		{"already accepted is dropped", `[{"clientID":"me","changes":[[0,"x"],3]},{"clientID":"me","changes":[4,[0,"z"]]}]`, `[{"clientID":"me","changes":[[0,"x"],3]}]`, `[{"clientID":"me","changes":[4,[0,"z"]]}]`},
		{"all accepted", `[{"clientID":"me","changes":[[0,"x"],3]}]`, `[{"clientID":"me","changes":[[0,"x"],3]},{"clientID":"p","changes":[[4]]}]`, `[]`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var up, ov, want []wireUpdate
			for _, x := range []struct {
				s string
				v *[]wireUpdate
			}{{c.updates, &up}, {c.over, &ov}, {c.want, &want}} {
				if err := json.Unmarshal([]byte(x.s), x.v); err != nil {
					t.Fatal(err)
				}
			}
			rebased, err := Rebase(fromWire(t, up), fromWire(t, ov))
			if err != nil {
				t.Fatal(err)
			}
			got, _ := json.Marshal(toWire(rebased))
			w, _ := json.Marshal(want)
			if !bytes.Equal(got, w) {
				t.Fatalf("Rebase = %s, want %s", got, w)
			}
		})
	}
}

func TestRebaseRefusesForgedClaims(t *testing.T) {
	// The push claims, by clientID, an accepted update of another length.
	up := fromWire(t, []wireUpdate{{"me", json.RawMessage(`[[0,"abc"],3]`)}, {"me", json.RawMessage(`[6,[0,"d"]]`)}})
	ov := fromWire(t, []wireUpdate{{"p", json.RawMessage(`[[0,"q"],3]`)}, {"me", json.RawMessage(`[4,[0,"z"]]`)}, {"p", json.RawMessage(`[[5]]`)}})
	if _, err := Rebase(up, ov); !errors.Is(err, ErrLengthMismatch) {
		t.Fatalf("Rebase of a forged claim: %v, want ErrLengthMismatch", err)
	}
}

func TestInsertedUnits(t *testing.T) {
	for _, c := range []struct {
		changes string
		want    int
	}{{`[3]`, 0}, {`[[3,"abc"]]`, 3}, {`[1,[2,"😀"],[1],1]`, 2}, {`[[0,"a","b"],2]`, 3}} {
		if got := parseOrPanic([]byte(c.changes)).InsertedUnits(); got != c.want {
			t.Errorf("InsertedUnits(%s) = %d, want %d", c.changes, got, c.want)
		}
	}
}

// TestRebaseDifferentialAgainstCollab runs thousands of random pushes from
// a client that is behind through Rebase and RebaseEach, and through
// @codemirror/collab's rebaseUpdates under node (scripts/rebase-oracle.mjs;
// for RebaseEach, rebaseUpdates over one accepted update at a time), and
// requires byte-identical results.
func TestRebaseDifferentialAgainstCollab(t *testing.T) {
	root := oracleRoot(t)
	r := rand.New(rand.NewPCG(20261130, 11))
	const n = 3000
	cases := make([]rebaseCase, n)
	for i := range cases {
		cases[i] = genRebaseCase(r)
		cases[i].Each = i%2 == 1
	}
	answers := runOracle[rebaseCase, rebaseAnswer](t, root, "rebase-oracle.mjs", cases)
	dropped, mapped, failures := 0, 0, 0
	for i, c := range cases {
		want := answers[i]
		if want.Error != "" {
			in, _ := json.Marshal(c)
			t.Fatalf("case %d: collab threw %s\ninput: %s", i, want.Error, in)
		}
		rebase := Rebase
		if c.Each {
			rebase = RebaseEach
		}
		got, err := rebase(fromWire(t, c.Updates), fromWire(t, c.Over))
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if len(got) < len(c.Updates) {
			dropped++
		}
		if len(c.Over) > 0 && len(got) > 0 {
			mapped++
		}
		gb, _ := json.Marshal(toWire(got))
		wb, _ := json.Marshal(want.Updates)
		if !bytes.Equal(gb, wb) {
			in, _ := json.Marshal(c)
			t.Errorf("case %d: Rebase = %s, collab gives %s\ninput: %s", i, gb, wb, in)
			if failures++; failures == 10 {
				t.Fatal("too many failures")
			}
		}
	}
	t.Logf("%d cases agree with rebaseUpdates (%d dropped accepted updates, %d mapped)", n, dropped, mapped)
}

// runOracle streams cases through a node script in scripts/, one JSON
// object per line each way.
func runOracle[In, Out any](t *testing.T, root, script string, cases []In) []Out {
	t.Helper()
	cmd := exec.Command("node", filepath.Join("scripts", script))
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", script, err)
	}
	writeErr := make(chan error, 1)
	go func() { // node answers while it reads: write and read concurrently
		w := bufio.NewWriter(stdin)
		enc := json.NewEncoder(w)
		for _, c := range cases {
			if err := enc.Encode(c); err != nil {
				writeErr <- err
				return
			}
		}
		if err := w.Flush(); err != nil {
			writeErr <- err
			return
		}
		writeErr <- stdin.Close()
	}()
	out := make([]Out, 0, len(cases))
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 0, 1<<16), 1<<24)
	for sc.Scan() {
		var a Out
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			t.Fatalf("%s answer %d: %v: %s", script, len(out), err, sc.Bytes())
		}
		out = append(out, a)
	}
	scanErr, waitErr := sc.Err(), cmd.Wait()
	if err := <-writeErr; err != nil {
		t.Fatalf("writing to %s: %v\nstderr: %s", script, err, stderr.Bytes())
	}
	if scanErr != nil || waitErr != nil || len(out) != len(cases) {
		t.Fatalf("%s failed after %d of %d answers: %v %v\nstderr: %s", script, len(out), len(cases), scanErr, waitErr, stderr.Bytes())
	}
	return out
}

package changeset

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// oracleCase is one question for scripts/changeset-oracle.mjs.
type oracleCase struct {
	Doc     string          `json:"doc"`
	Changes json.RawMessage `json:"changes"`
	Other   json.RawMessage `json:"other,omitempty"` // starts from Doc too
	Next    json.RawMessage `json:"next,omitempty"`  // starts from the changed Doc
}

// oracleAnswer is what @codemirror/state answered. The change sets are kept
// as raw bytes: they are JSON.stringify output, which MarshalJSON must match
// byte for byte.
type oracleAnswer struct {
	Error      string          `json:"error"`
	JSON       json.RawMessage `json:"json"`
	Apply      string          `json:"apply"`
	WellFormed bool            `json:"wellFormed"`
	Map        json.RawMessage `json:"map"`
	MapBefore  json.RawMessage `json:"mapBefore"`
	Compose    json.RawMessage `json:"compose"`
}

// TestDifferentialAgainstCodeMirror runs thousands of random documents and
// change sets through this package and through the real @codemirror/state
// under node, and requires identical results: Apply, MarshalJSON, Map both
// ways and Compose.
func TestDifferentialAgainstCodeMirror(t *testing.T) {
	root := oracleRoot(t)
	r := rand.New(rand.NewPCG(20240611, 6))

	cases := []oracleCase{
		// Hand-picked edges: split pairs that stay split, and that re-pair.
		{Doc: "ab😀c", Changes: raw(`[2,[1],2]`), Other: raw(`[[0,"x"],5]`), Next: raw(`[[0,"q"],4]`)},
		{Doc: "😀😁", Changes: raw(`[1,[2],1]`), Other: raw(`[1,[0,"é"],3]`), Next: raw(`[1,[1]]`)},
		{Doc: "👍🏽", Changes: raw(`[2,[2,"👍🏿"]]`), Other: raw(`[[4]]`), Next: raw(`[[3],3]`)},
		{Doc: "", Changes: raw(`[]`), Other: raw(`[]`), Next: raw(`[[0,"a","b"]]`)},
		{Doc: "a\nb", Changes: raw(`[3,[0,"",""]]`), Other: raw(`[1,[1],1]`), Next: raw(`[[4,"x"]]`)},
		{Doc: "ab", Changes: raw(`[[1],[0,"x"],1]`), Other: raw(`[1,[0,"y"],1]`), Next: raw(`[[0,"z"],[1,"w"],1]`)},
	}
	const random = 3000
	for range random {
		doc := randDoc(r)
		c := oracleCase{Doc: doc, Changes: randChangesJSON(r, UTF16Len(doc))}
		parsed, err := Parse(c.Changes)
		if err != nil {
			t.Fatalf("generated changes %s rejected: %v", c.Changes, err)
		}
		c.Other = randChangesJSON(r, parsed.LenBefore())
		c.Next = randChangesJSON(r, parsed.LenAfter())
		cases = append(cases, c)
	}

	answers := askOracle(t, root, cases)
	failures, split := 0, 0
	for i, c := range cases {
		if !answers[i].WellFormed {
			split++
		}
		if err := compareWithOracle(c, answers[i]); err != nil {
			in, _ := json.Marshal(c)
			t.Errorf("case %d: %v\ninput: %s", i, err, in)
			if failures++; failures == 10 {
				t.Fatal("too many failures")
			}
		}
	}
	t.Logf("%d cases (%d random) agree with @codemirror/state; in %d the result splits a surrogate pair", len(cases), random, split)
}

func raw(s string) json.RawMessage { return json.RawMessage(s) }

// compareWithOracle checks every Go result for one case against
// CodeMirror's answer.
func compareWithOracle(c oracleCase, want oracleAnswer) error {
	if want.Error != "" {
		return fmt.Errorf("CodeMirror threw: %s", want.Error)
	}
	changes, err := Parse(c.Changes)
	if err != nil {
		return fmt.Errorf("Parse(changes): %w", err)
	}
	if err := sameJSON("MarshalJSON", changes, want.JSON); err != nil {
		return err
	}

	got, err := changes.Apply(c.Doc)
	switch {
	case !want.WellFormed && !errors.Is(err, ErrLoneSurrogate):
		return fmt.Errorf("Apply = %q, %v; want ErrLoneSurrogate (JS result has an unpaired surrogate)", got, err)
	case want.WellFormed && err != nil:
		return fmt.Errorf("Apply: %v; want %q", err, want.Apply)
	case want.WellFormed && got != want.Apply:
		return fmt.Errorf("Apply = %q; want %q", got, want.Apply)
	}

	other, err := Parse(c.Other)
	if err != nil {
		return fmt.Errorf("Parse(other): %w", err)
	}
	if err := sameJSON("Map", changes.Map(other, false), want.Map); err != nil {
		return err
	}
	if err := sameJSON("Map before", changes.Map(other, true), want.MapBefore); err != nil {
		return err
	}
	next, err := Parse(c.Next)
	if err != nil {
		return fmt.Errorf("Parse(next): %w", err)
	}
	return sameJSON("Compose", changes.Compose(next), want.Compose)
}

func sameJSON(what string, c ChangeSet, want json.RawMessage) error {
	got, err := c.MarshalJSON()
	if err != nil {
		return fmt.Errorf("%s: MarshalJSON: %w", what, err)
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("%s = %s (%v); CodeMirror gives %s", what, got, c, want)
	}
	return nil
}

// oracleRoot returns the repository root, failing the test (not skipping
// it) when node or @codemirror/state is missing, so CI cannot pass without
// the check. RR_SKIP_NODE=1 skips it on purpose.
func oracleRoot(t *testing.T) string {
	t.Helper()
	if os.Getenv("RR_SKIP_NODE") == "1" {
		t.Skip("RR_SKIP_NODE=1: differential test against @codemirror/state skipped")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatalf("node not found (%v): install Node.js and run `npm ci` in %s, or set RR_SKIP_NODE=1 to skip", err, root)
	}
	pkg := filepath.Join(root, "node_modules", "@codemirror", "state", "package.json")
	if _, err := os.Stat(pkg); err != nil {
		t.Fatalf("@codemirror/state is not installed (%v): run `npm ci` in %s, or set RR_SKIP_NODE=1 to skip", err, root)
	}
	return root
}

// askOracle runs the node oracle once, streaming every case through it.
func askOracle(t *testing.T, root string, cases []oracleCase) []oracleAnswer {
	t.Helper()
	cmd := exec.Command("node", filepath.Join("scripts", "changeset-oracle.mjs"))
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
		t.Fatalf("starting the oracle: %v", err)
	}

	// Write from another goroutine: node answers while it reads, and both
	// pipes would fill up if we wrote everything before reading.
	writeErr := make(chan error, 1)
	go func() {
		w := bufio.NewWriter(stdin)
		enc := json.NewEncoder(w) // one object per line
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

	answers := make([]oracleAnswer, 0, len(cases))
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 0, 1<<16), 1<<24)
	for sc.Scan() {
		var a oracleAnswer
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			t.Fatalf("oracle answer %d: %v: %s", len(answers), err, sc.Bytes())
		}
		answers = append(answers, a)
	}
	scanErr := sc.Err()
	waitErr := cmd.Wait()
	if err := <-writeErr; err != nil {
		t.Fatalf("writing to the oracle: %v\nstderr: %s", err, stderr.Bytes())
	}
	if scanErr != nil || waitErr != nil {
		t.Fatalf("oracle failed: %v %v\nstderr: %s", scanErr, waitErr, stderr.Bytes())
	}
	if len(answers) != len(cases) {
		t.Fatalf("oracle answered %d of %d cases\nstderr: %s", len(answers), len(cases), stderr.Bytes())
	}
	return answers
}

package store

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestPipelinedPushesCommitEachOnItsOwn: many writers pushing at once
// share pipelines, yet each push is decided on its own: every field ends
// with exactly its writer's text, racing writers of one field are
// arbitrated by the version check (one ok, the other behind), a script
// cache flushed between pushes is reloaded, and a caller whose context
// ends stops waiting with an error (never a result it did not get).
func TestPipelinedPushesCommitEachOnItsOwn(t *testing.T) {
	s, ctx := newStore(t, DefaultOptions())
	const fields, each = 40, 25
	names := make([]string, fields)
	for i := range names {
		names[i] = fmt.Sprintf("f%d", i)
	}
	createRoom(t, s, ctx, "p", names...)

	var wg sync.WaitGroup
	errs := make(chan error, fields)
	for i, f := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := newWriter(t, s, ctx, "p", f)
			for j := 0; j < each; j++ {
				if i == 0 && j == each/2 {
					// Redis forgets its scripts (as after a restart): the
					// pushes in the next pipelines must load it again.
					if err := s.rdb.ScriptFlush(ctx).Err(); err != nil {
						errs <- err
						return
					}
				}
				if st := w.push(ctx, entry(len(w.head.Text)), w.head.Text+"x", 1); st != PushOK {
					errs <- fmt.Errorf("%s push %d: %s", f, j, st)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got, err := s.Fields(ctx, "p", names)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range names {
		if got[f].Version != each || got[f].Text != strings.Repeat("x", each) {
			t.Fatalf("%s: v%d %q", f, got[f].Version, got[f].Text)
		}
	}

	// Two pushes at the same version of one field, sent together.
	createRoom(t, s, ctx, "q", "f")
	snap, err := s.Snapshot(ctx, "q", []string{"f"})
	if err != nil {
		t.Fatal(err)
	}
	h := snap.Heads["f"]
	statuses := make(chan string, 2)
	for _, txt := range []string{"a", "b"} {
		go func() {
			res, err := s.Push(ctx, Push{Room: "q", Field: "f", Seat: "a", Epoch: h.Epoch, Version: h.Version,
				Base: h.Base, SinceBytes: h.SinceBytes, Text: txt, Inserted: 1,
				Entries: [][]byte{replaceEntry(0, txt)}, Publish: []byte("p")})
			if err != nil {
				statuses <- err.Error()
				return
			}
			statuses <- res.Status
		}()
	}
	a, b := <-statuses, <-statuses
	if !(a == PushOK && b == PushBehind || a == PushBehind && b == PushOK) {
		t.Fatalf("racing pushes: %s and %s, want one ok and one behind", a, b)
	}

	// A caller that stops waiting gets its context's error.
	cctx, cancel := context.WithTimeout(ctx, time.Nanosecond)
	defer cancel()
	<-cctx.Done()
	if _, err := s.runPush(cctx, []string{"x"}, nil); err == nil || !strings.Contains(err.Error(), "deadline") {
		t.Fatalf("a caller past its deadline: %v", err)
	}
}

package realtime

import (
	"context"
	"reflect"
	"testing"

	"repairroom/internal/protocol"
	"repairroom/internal/store"
)

// TestChangedRedisMovesServedFieldsToNewEpochs: when the per-Redis marker
// changes (another data set, or the same one wiped and written again), the
// node moves every field it serves to a new epoch, keeping text and
// version, and a push under the old epoch is answered with a reset.
func TestChangedRedisMovesServedFieldsToNewEpochs(t *testing.T) {
	rdb, _ := startRedis(t)
	st := store.New(rdb, store.DefaultOptions())
	e := startPush(t, st, nil)
	ctx := context.Background()
	e.push("a", 0, `[{"clientID":"A","changes":[[0,"abc"]]}]`)
	if f := e.ws.next(t, answerTo("a")); f.T != protocol.TAck {
		t.Fatalf("push: %+v", f)
	}
	if changed, err := e.h.CheckStoreIdentity(ctx); changed || err != nil {
		t.Fatalf("first check: %v %v", changed, err)
	}
	if changed, err := e.h.CheckStoreIdentity(ctx); changed || err != nil {
		t.Fatalf("same Redis: %v %v", changed, err)
	}
	if err := rdb.Del(ctx, "rr:marker").Err(); err != nil {
		t.Fatal(err)
	}
	if changed, err := e.h.CheckStoreIdentity(ctx); !changed || err != nil {
		t.Fatalf("after the marker changed: %v %v", changed, err)
	}
	id := e.fsRoom(t)
	fs, err := st.Fields(ctx, id, []string{"wins"})
	if err != nil || fs["wins"].Epoch == e.fs.Epoch || fs["wins"].Version != 1 || fs["wins"].Text != "abc" {
		t.Fatalf("field after the change: %+v %v (old epoch %s)", fs["wins"], err, e.fs.Epoch)
	}
	if got, want := fs["wins"].Lineage(), []store.Lineage{{Epoch: e.fs.Epoch, Version: 1}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("lineage after the change: %v, want %v", got, want)
	}
	e.push("b", 1, `[{"clientID":"A","changes":[3,[0,"d"]]}]`)
	if f := e.ws.next(t, answerTo("b")); f.T != protocol.TReset {
		t.Fatalf("push under the old epoch: %+v, want a reset", f)
	}
}

// TestPushAboveTheFieldMovesItToANewEpoch: Redis comes back older than
// what it acknowledged (its keys restored from before the last push); the
// client pushes at the version it was acknowledged: the field moves to a
// new epoch (no version number reused) and the client is reset.
func TestPushAboveTheFieldMovesItToANewEpoch(t *testing.T) {
	rdb, _ := startRedis(t)
	st := store.New(rdb, store.DefaultOptions())
	e := startPush(t, st, nil)
	ctx := context.Background()
	id := e.fsRoom(t)
	e.push("a", 0, `[{"clientID":"A","changes":[[0,"abc"]]}]`)
	if f := e.ws.next(t, answerTo("a")); f.T != protocol.TAck || f.Version != 1 {
		t.Fatalf("push: %+v", f)
	}
	saved := map[string]string{}
	for _, k := range []string{"rr:{" + id + "}:f:wins", "rr:{" + id + "}:log:wins", "rr:{" + id + "}:meta"} {
		saved[k] = rdb.Dump(ctx, k).Val()
	}
	e.push("b", 1, `[{"clientID":"A","changes":[3,[0,"d"]]}]`)
	if f := e.ws.next(t, answerTo("b")); f.T != protocol.TAck || f.Version != 2 {
		t.Fatalf("push: %+v", f)
	}
	for k, v := range saved { // Redis goes back to version 1
		if err := rdb.RestoreReplace(ctx, k, 0, v).Err(); err != nil {
			t.Fatal(err)
		}
	}
	e.push("c", 2, `[{"clientID":"A","changes":[4,[0,"e"]]}]`)
	f := e.ws.next(t, answerTo("c"))
	if f.T != protocol.TReset {
		t.Fatalf("push above the field: %+v, want a reset", f)
	}
	fs, err := st.Fields(ctx, id, []string{"wins"})
	if err != nil || fs["wins"].Epoch == e.fs.Epoch || fs["wins"].Version != 1 || fs["wins"].Text != "abc" {
		t.Fatalf("field after the rollback: %+v %v (old epoch %s)", fs["wins"], err, e.fs.Epoch)
	}
	if got, want := fs["wins"].Lineage(), []store.Lineage{{Epoch: e.fs.Epoch, Version: 1}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("lineage after the rollback: %v, want %v", got, want)
	}
}

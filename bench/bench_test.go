// Package bench holds micro-benchmarks of the push path, against a real
// redis-server (internal/redistest starts one on a Unix socket when a
// benchmark first needs it). There are no tests here: `go test ./bench/...`
// runs nothing and starts nothing; run the benchmarks with
//
//	go test -run '^$' -bench . -benchmem ./bench/
//
// The load generator is in bench/loadgen; results are in bench/results.
package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"repairroom/internal/changeset"
	"repairroom/internal/limits"
	"repairroom/internal/protocol"
	"repairroom/internal/realtime"
	"repairroom/internal/redistest"
	"repairroom/internal/store"
	"repairroom/internal/testnode"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// textOf returns n ASCII characters of prose.
func textOf(n int) string {
	const s = "we walked to the market together and you made me laugh\n"
	return strings.Repeat(s, n/len(s)+1)[:n]
}

var sizes = []int{0, 1 << 10, 16 << 10, 60 << 10}

func sizeName(n int) string {
	if n >= 1<<10 {
		return fmt.Sprintf("text=%dKiB", n>>10)
	}
	return "text=" + strconv.Itoa(n)
}

// newRoom creates a room with one text field on a fresh database.
func newRoom(b *testing.B, text string) (*store.Store, string, store.Field) {
	b.Helper()
	rdb := redistest.Client(b)
	st := store.New(rdb, store.DefaultOptions())
	ctx := context.Background()
	id := "benchroom" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if err := st.CreateRoom(ctx, id, "checkin", "self", time.Now(), []byte(`{}`), []byte(`{}`), []string{"wins"}); err != nil {
		b.Fatal(err)
	}
	snap, err := st.Snapshot(ctx, id, []string{"wins"})
	if err != nil {
		b.Fatal(err)
	}
	f := snap.Fields["wins"]
	if text != "" {
		// Bring the field to the starting text with one real commit.
		res, err := st.Push(ctx, store.Push{Room: id, Field: "wins", Rev: snap.Rev, Epoch: f.Epoch, Version: f.Version,
			Text: text, Entries: [][]byte{[]byte(`{"clientID":"seed","changes":[[0,"x"]]}`)}, Publish: []byte("u\n{}")})
		if err != nil || res.Status != store.PushOK {
			b.Fatalf("seeding: %v %+v", err, res)
		}
		f.Version, f.Text = res.Version, text
	}
	return st, id, f
}

// keystrokeEntry is what the server stores and publishes for one
// keystroke: a log entry and an "updates" frame behind the bus header.
func keystrokeEntry(pos int) ([]byte, []byte) {
	entry := []byte(`{"clientID":"0123456789abcdef","changes":[` + strconv.Itoa(pos) + `,[0,"x"]],"by":"partner_a","at":1760000000000}`)
	frame := `{"k":"u","aud":["partner_a","partner_b","moderator"]}` + "\n" +
		`{"t":"updates","field":"wins","epoch":"0123456789ab","from":1,"updates":[` + string(entry) + `]}`
	return entry, []byte(frame)
}

// BenchmarkStorePush is the commit of one keystroke: the push script
// (compare-and-set on rev, epoch and version, store the whole new text,
// append to the log, trim it, refresh TTLs, publish) in one round trip.
// The text is rewritten whole on every push, hence the sizes.
func BenchmarkStorePush(b *testing.B) {
	for _, n := range sizes {
		b.Run(sizeName(n), func(b *testing.B) {
			st, id, f := newRoom(b, textOf(n))
			ctx := context.Background()
			entry, frame := keystrokeEntry(n)
			text := textOf(n)
			v := f.Version
			b.SetBytes(int64(len(text)))
			for b.Loop() {
				res, err := st.Push(ctx, store.Push{Room: id, Field: "wins", Rev: 0, Epoch: f.Epoch, Version: v,
					Text: text, Entries: [][]byte{entry}, Publish: frame})
				if err != nil || res.Status != store.PushOK {
					b.Fatalf("push: %v %+v", err, res)
				}
				v = res.Version
			}
		})
	}
}

// BenchmarkStorePushRoundTrip is the store's share of one push as
// realtime's handler does it: Snapshot (room state and the field's text,
// one script) and then Push (a second script): two round trips, and the
// text travels both ways.
func BenchmarkStorePushRoundTrip(b *testing.B) {
	for _, n := range sizes {
		b.Run(sizeName(n), func(b *testing.B) {
			st, id, _ := newRoom(b, textOf(n))
			ctx := context.Background()
			entry, frame := keystrokeEntry(n)
			text := textOf(n)
			b.SetBytes(int64(len(text)))
			for b.Loop() {
				snap, err := st.Snapshot(ctx, id, []string{"wins"})
				if err != nil {
					b.Fatal(err)
				}
				f := snap.Fields["wins"]
				res, err := st.Push(ctx, store.Push{Room: id, Field: "wins", Rev: snap.Rev, Epoch: f.Epoch, Version: f.Version,
					Text: text, Entries: [][]byte{entry}, Publish: frame})
				if err != nil || res.Status != store.PushOK {
					b.Fatalf("push: %v %+v", err, res)
				}
			}
		})
	}
}

// BenchmarkDecodePush is protocol.Decode of one keystroke's push frame.
func BenchmarkDecodePush(b *testing.B) {
	frame := []byte(`{"t":"push","id":"u42","field":"wins","epoch":"0123456789ab","version":41,"updates":[{"clientID":"0123456789abcdef","changes":[1234,[0,"x"]]}]}`)
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		if _, err := protocol.Decode(frame); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkKeystrokeApply is the server's CPU work on the text for one
// keystroke (realtime applyUpdates): parse the ChangeSet with limits,
// apply it to the whole text, re-encode it canonically, measure the text.
func BenchmarkKeystrokeApply(b *testing.B) {
	lim := changeset.Limits{MaxInsertUnits: 32768}
	for _, n := range sizes {
		b.Run(sizeName(n), func(b *testing.B) {
			text := textOf(n)
			var js []byte
			if n == 0 {
				js = []byte(`[[0,"x"]]`)
			} else {
				js = []byte(`[` + strconv.Itoa(n/2) + `,[0,"x"],` + strconv.Itoa(n-n/2) + `]`)
			}
			b.SetBytes(int64(len(text)))
			for b.Loop() {
				cs, err := lim.Parse(js)
				if err != nil {
					b.Fatal(err)
				}
				out, err := cs.Apply(text)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := cs.MarshalJSON(); err != nil {
					b.Fatal(err)
				}
				_ = changeset.UTF16Len(out)
			}
		})
	}
}

// BenchmarkWSPushAck is one keystroke end to end on an idle node: a push
// written on a real WebSocket to an in-process node (httpapi, realtime,
// store on redis-server), until its ack is read. One client, one push in
// flight: ns/op is the round trip with nothing else going on. The node
// runs the default configuration except the per-connection message limit
// (40/s), lifted so that it measures the path, not the rate limiter.
func BenchmarkWSPushAck(b *testing.B) {
	rdb := redistest.Client(b)
	n := testnode.Start(b, rdb, testnode.Options{Realtime: realtime.Config{Limits: limits.Limits{RatePerSecond: 1e9, RateBurst: 1e9}}})
	r := n.CreateRoom(b, "checkin", "self")
	ws, _, err := n.Dial(r.ID, r.Tokens["partner_a"])
	if err != nil {
		b.Fatal(err)
	}
	defer ws.Close()
	var welcome struct {
		Fields map[string]protocol.FieldSnapshot `json:"fields"`
	}
	if err := ws.ReadJSON(&welcome); err != nil {
		b.Fatal(err)
	}
	f := welcome.Fields["wins"]
	v, length := f.Version, 0
	var reply struct {
		T       string `json:"t"`
		Re      string `json:"re"`
		Version int64  `json:"version"`
		Code    string `json:"code"`
	}
	i := 0
	for b.Loop() {
		i++
		var cs string
		if length == 0 {
			cs = `[[0,"x"]]`
		} else {
			cs = `[` + strconv.Itoa(length) + `,[0,"x"]]`
		}
		id := "u" + strconv.Itoa(i)
		msg := `{"t":"push","id":"` + id + `","field":"wins","epoch":"` + f.Epoch + `","version":` + strconv.FormatInt(v, 10) +
			`,"updates":[{"clientID":"bench","changes":` + cs + `}]}`
		if err := ws.WriteMessage(1, []byte(msg)); err != nil {
			b.Fatal(err)
		}
		for {
			_, raw, err := ws.ReadMessage()
			if err != nil {
				b.Fatal(err)
			}
			if err := json.Unmarshal(raw, &reply); err != nil {
				b.Fatal(err)
			}
			if reply.Re != id {
				continue // the echo of an earlier push, members
			}
			if reply.T != "ack" {
				b.Fatalf("push %d: %s", i, raw)
			}
			v = reply.Version
			length++
			break
		}
	}
}

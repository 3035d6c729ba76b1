package realtime

import (
	"encoding/json"
	"sync"

	"repairroom/internal/store"
)

// tailMax bounds the recent log entries a cached head keeps for rebasing
// pushes that are a little behind without a Redis read: a partner 300 ms
// away is a few versions behind, and one further back than this costs a
// read of the log, not a refusal. Each entry is ~130 bytes per field on
// the node (512 of them were most of a busy room's memory).
const tailMax = 32

// heads caches, for one room on this node, the head of each text field it
// has served: epoch, version, text and the recent log tail, so a push costs
// one Redis round trip (the commit script, whose compare-and-set on rev,
// epoch and version stays the arbiter). The cache is only ever a guess:
// every decision it feeds is checked by the script, and a mismatch drops
// the entry and reloads it from Redis. It is kept current from this node's
// commits (committed) and from every update published on the room's
// channel (observe), whichever comes first. The zero value is ready; it
// lives in the roomHub and is evicted with it.
type heads struct {
	mu sync.Mutex
	m  map[string]*store.Head
}

// get returns a copy of the cached head of key (Tail shared, never
// mutated in place), or false.
func (hs *heads) get(key string) (store.Head, bool) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	h, ok := hs.m[key]
	if !ok {
		return store.Head{}, false
	}
	return *h, true
}

// put stores a head read from Redis, unless the cache already holds a
// newer one of the same epoch.
func (hs *heads) put(key string, h store.Head) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if hs.m == nil {
		hs.m = make(map[string]*store.Head)
	}
	if cur, ok := hs.m[key]; ok && cur.Epoch == h.Epoch && cur.Version > h.Version {
		return
	}
	hs.m[key] = &h
}

// drop forgets key: the next push reads it from Redis.
func (hs *heads) drop(key string) {
	hs.mu.Lock()
	delete(hs.m, key)
	hs.mu.Unlock()
}

// dropAll forgets every field (Redis may have gone back).
func (hs *heads) dropAll() {
	hs.mu.Lock()
	hs.m = nil
	hs.mu.Unlock()
}

// keys returns the cached fields with their epochs.
func (hs *heads) epochs() map[string]string {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	out := make(map[string]string, len(hs.m))
	for k, h := range hs.m {
		out[k] = h.Epoch
	}
	return out
}

// advance moves the cached head of key from version from under epoch over
// entries, ending with text. Entries the cache already has are skipped; a
// gap or another epoch drops the entry.
func (hs *heads) advance(key, epoch string, from int64, entries [][]byte, text string, res *store.PushResult) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	h, ok := hs.m[key]
	if !ok {
		return
	}
	end := from + int64(len(entries))
	switch {
	case h.Epoch != epoch:
		delete(hs.m, key)
		return
	case end <= h.Version:
		if res != nil && end == h.Version {
			h.Base, h.SinceBytes = res.Base, res.SinceBytes // the echo came first
		}
		return // seen already
	case from != h.Version:
		delete(hs.m, key)
		return
	}
	if text == "" && len(entries) > 0 {
		t, err := store.Replay(h.Text, entries)
		if err != nil {
			delete(hs.m, key)
			return
		}
		text = t
	}
	n := *h
	n.Version, n.Text = end, text
	for _, e := range entries {
		n.SinceBytes += int64(len(e))
	}
	if res != nil {
		n.Base, n.SinceBytes = res.Base, res.SinceBytes
	}
	// Appending in place is safe: copies handed out by get end at their
	// own length and are never appended to, so the array grows (and the
	// tail is copied) only when its capacity runs out, not on every push.
	tail := append(h.Tail, entries...)
	if over := len(tail) - tailMax; over > 0 {
		tail = tail[over:]
		n.TailFrom += int64(over)
	}
	n.Tail = tail
	hs.m[key] = &n
}

// committed records this node's own commit of entries at from.
func (hs *heads) committed(key, epoch string, from int64, entries [][]byte, text string, res store.PushResult) {
	hs.advance(key, epoch, from, entries, text, &res)
}

// observe keeps the cache current from an "updates" frame published on the
// room's channel (by any node, this one included).
func (hs *heads) observe(frame []byte) {
	var u struct {
		Field   string            `json:"field"`
		Epoch   string            `json:"epoch"`
		From    int64             `json:"from"`
		Updates []json.RawMessage `json:"updates"`
	}
	if json.Unmarshal(frame, &u) != nil || u.Field == "" {
		return
	}
	if _, ok := hs.get(u.Field); !ok {
		return
	}
	es := make([][]byte, len(u.Updates))
	for i, r := range u.Updates {
		es[i] = r
	}
	hs.advance(u.Field, u.Epoch, u.From, es, "", nil)
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fasthttp/websocket"

	"repairroom/internal/changeset"
)

// The load generator speaks the wire protocol (docs/protocol.md) itself,
// for one text field, the way @codemirror/collab does: one push in flight,
// local keystrokes queued behind it, remote updates rebasing the queue.
// Doing it here rather than through internal/client lets it timestamp the
// exact moment each push is written and each reply read.

// author is what every client knows about another one: when each of its
// updates was pushed and typed, for delivery latencies. Receivers look an
// update up by its clientID, "<author>.<seq>".
type author struct {
	node int

	mu     sync.Mutex
	pushed []int64 // unix ns of the latest push carrying update seq
	typed  []int64 // unix ns of the keystroke that made update seq
}

func (a *author) setTyped(seq int, t int64) {
	a.mu.Lock()
	for len(a.typed) <= seq {
		a.typed = append(a.typed, 0)
		a.pushed = append(a.pushed, 0)
	}
	a.typed[seq] = t
	a.mu.Unlock()
}

func (a *author) setPushed(seq int, t int64) {
	a.mu.Lock()
	a.pushed[seq] = t
	a.mu.Unlock()
}

func (a *author) times(seq int) (pushed, typed int64, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if seq < 0 || seq >= len(a.typed) {
		return 0, 0, false
	}
	return a.pushed[seq], a.typed[seq], true
}

// pendingUpdate is one keystroke not yet confirmed by the server.
type pendingUpdate struct {
	seq int
	cs  changeset.ChangeSet
	raw []byte // cs as JSON, refreshed after every rebase
}

type inFlight struct {
	id      string
	n       int   // updates in the push
	version int64 // the version it was pushed at
	sentAt  int64
}

// counters are per client, summed at the end.
type counters struct {
	pushes        int64 // push frames written
	pushedUpdates int64 // updates in them (a rebased update counts again)
	acks          int64
	ackedUpdates  int64 // updates confirmed by an ack within the window
	behind        int64
	rebased       int64 // remote updates that rebased unconfirmed local ones
	remoteApplied int64
	gaps          int64 // updates frames beyond our version (pulled)
	dupRemote     int64 // remote updates received again at a version we already had
	resets        int64
	anomalies     int64 // frames that did not fit our state
	errors        map[string]int64
	keystrokes    int64
}

type client struct {
	idx    int // global index, also the clientID prefix
	room   *roomRun
	node   int
	field  string
	me     *author
	lat    *latencies
	window *window

	ws      *websocket.Conn
	writeMu sync.Mutex

	mu        sync.Mutex
	epoch     string
	version   int64
	text      string
	localLen  int // UTF-16 length of text with every pending update applied
	pending   []pendingUpdate
	flight    *inFlight
	waitFor   int64 // after "behind": do not push before reaching this version
	pulling   string
	retryAt   int64 // after a refused push: not before this time (unix ns)
	nextID    int
	nextSeq   int
	c         counters
	closeCode int
	readErr   error
	settled   chan struct{} // closed and replaced on every state change
	stopped   atomic.Bool
}

// serverFrame holds what the load generator reads of any server message.
type serverFrame struct {
	T       string            `json:"t"`
	Re      string            `json:"re"`
	Field   string            `json:"field"`
	Epoch   string            `json:"epoch"`
	From    int64             `json:"from"`
	Version int64             `json:"version"`
	Text    string            `json:"text"`
	Updates []json.RawMessage `json:"updates"`
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]struct {
		Epoch   string `json:"epoch"`
		Version int64  `json:"version"`
		Text    string `json:"text"`
	} `json:"fields"`
}

type wireUpdate struct {
	ClientID string          `json:"clientID"`
	Changes  json.RawMessage `json:"changes"`
}

func (c *client) clientID(seq int) string {
	return "lg" + strconv.Itoa(c.idx) + "." + strconv.Itoa(seq)
}

// parseClientID is the inverse of clientID.
func parseClientID(id string) (idx, seq int, ok bool) {
	rest, found := strings.CutPrefix(id, "lg")
	if !found {
		return 0, 0, false
	}
	a, b, found := strings.Cut(rest, ".")
	if !found {
		return 0, 0, false
	}
	var err1, err2 error
	idx, err1 = strconv.Atoi(a)
	seq, err2 = strconv.Atoi(b)
	return idx, seq, err1 == nil && err2 == nil
}

// dial connects and processes the welcome.
func (c *client) dial(ctx context.Context, wsURL, origin string) error {
	d := websocket.Dialer{HandshakeTimeout: 15 * time.Second, ReadBufferSize: 16 << 10, WriteBufferSize: 16 << 10}
	ws, resp, err := d.DialContext(ctx, wsURL, http.Header{"Origin": {origin}})
	if err != nil {
		if resp != nil {
			return fmt.Errorf("dial: HTTP %d: %w", resp.StatusCode, err)
		}
		return fmt.Errorf("dial: %w", err)
	}
	ws.SetReadLimit(64 << 20)
	_ = ws.SetReadDeadline(time.Now().Add(15 * time.Second))
	_, raw, err := ws.ReadMessage()
	if err != nil {
		_ = ws.Close()
		return fmt.Errorf("waiting for the welcome: %w", err)
	}
	var f serverFrame
	if err := json.Unmarshal(raw, &f); err != nil || f.T != "welcome" {
		_ = ws.Close()
		return fmt.Errorf("first frame is not a welcome: %.200s", raw)
	}
	snap, ok := f.Fields[c.field]
	if !ok {
		_ = ws.Close()
		return fmt.Errorf("the welcome has no field %q", c.field)
	}
	_ = ws.SetReadDeadline(time.Time{})
	c.mu.Lock()
	c.ws = ws
	c.epoch, c.version, c.text = snap.Epoch, snap.Version, snap.Text
	c.localLen = changeset.UTF16Len(snap.Text)
	c.settled = make(chan struct{})
	c.c.errors = map[string]int64{}
	c.mu.Unlock()
	return nil
}

// readLoop reads until the socket closes.
func (c *client) readLoop() {
	for {
		_, raw, err := c.ws.ReadMessage()
		now := time.Now().UnixNano()
		if err != nil {
			c.mu.Lock()
			if !c.stopped.Load() {
				c.readErr = err
				if ce, ok := err.(*websocket.CloseError); ok {
					c.closeCode = ce.Code
				}
			}
			c.notifyLocked()
			c.mu.Unlock()
			return
		}
		c.handle(raw, now)
	}
}

func (c *client) handle(raw []byte, now int64) {
	var f serverFrame
	if err := json.Unmarshal(raw, &f); err != nil {
		c.mu.Lock()
		c.c.anomalies++
		c.mu.Unlock()
		return
	}
	switch f.T {
	case "updates", "ack", "behind", "reset", "error", "heads":
	default:
		return // members, presence, room: not measured
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch f.T {
	case "updates":
		if f.Field == c.field {
			if f.Re != "" && f.Re == c.pulling {
				c.pulling = ""
			}
			c.onUpdates(f, now)
		}
	case "ack":
		c.onAck(f, now)
	case "behind":
		if c.flight != nil && f.Re == c.flight.id {
			c.flight = nil
			c.c.behind++
			c.waitFor = f.Version
		}
	case "reset":
		// Not expected in this scenario (epochs do not change, logs reach
		// back 2000 versions). Take the snapshot when nothing is pending;
		// otherwise count it: the convergence check will show the damage.
		c.c.resets++
		if f.Re != "" && f.Re == c.pulling {
			c.pulling = ""
		}
		if c.flight != nil && f.Re == c.flight.id {
			c.flight = nil
		}
		if len(c.pending) == 0 {
			c.epoch, c.version, c.text = f.Epoch, f.Version, f.Text
			c.localLen = changeset.UTF16Len(f.Text)
		} else {
			c.c.anomalies++
		}
	case "heads":
		c.pull()
	case "error":
		code := f.Code
		if code == "" {
			code = "unknown"
		}
		c.c.errors[code]++
		if c.flight != nil && f.Re == c.flight.id {
			// Refused push: nothing was stored. Push again a little
			// later (next keystroke, frame or tick).
			c.flight = nil
			c.retryAt = now + int64(200*time.Millisecond)
		}
		if f.Re != "" && f.Re == c.pulling {
			c.pulling = ""
		}
	}
	c.maybePush(now)
	c.notifyLocked()
}

func (c *client) onAck(f serverFrame, now int64) {
	fl := c.flight
	if fl == nil || f.Re != fl.id {
		c.c.anomalies++
		return
	}
	c.flight = nil
	c.c.acks++
	if c.window.in(now) {
		c.c.ackedUpdates += int64(fl.n)
	}
	c.lat.add(&c.lat.ack, now-fl.sentAt, fl.sentAt)
	if c.version < f.Version {
		// The echo has not come yet: the ack alone confirms our updates
		// (the push was accepted at fl.version, so nothing came between).
		if c.version != fl.version || len(c.pending) < fl.n {
			c.c.anomalies++
			return
		}
		for i := 0; i < fl.n; i++ {
			c.confirmFirst()
		}
	}
}

// confirmFirst applies the oldest pending update to the confirmed text.
func (c *client) confirmFirst() {
	p := c.pending[0]
	t, err := p.cs.Apply(c.text)
	if err != nil {
		c.c.anomalies++
	} else {
		c.text = t
	}
	c.pending = c.pending[1:]
	c.version++
}

func (c *client) onUpdates(f serverFrame, now int64) {
	if f.Epoch != c.epoch {
		c.c.anomalies++
		return
	}
	if f.From > c.version {
		c.c.gaps++
		c.pull()
		return
	}
	for i, raw := range f.Updates {
		v := f.From + int64(i)
		if v < c.version {
			// Already have it: our own update confirmed by the ack, or
			// a remote one delivered twice (the pull the server sends
			// after "behind", and the room's fan-out).
			if !strings.HasPrefix(string(raw), `{"clientID":"lg`+strconv.Itoa(c.idx)+`.`) {
				c.c.dupRemote++
			}
			continue
		}
		var u wireUpdate
		if err := json.Unmarshal(raw, &u); err != nil {
			c.c.anomalies++
			return
		}
		idx, seq, ok := parseClientID(u.ClientID)
		if ok && idx == c.idx {
			if len(c.pending) == 0 || c.pending[0].seq != seq {
				c.c.anomalies++
				return
			}
			c.confirmFirst()
			continue
		}
		cs, err := changeset.Parse(u.Changes)
		if err != nil {
			c.c.anomalies++
			return
		}
		t, err := cs.Apply(c.text)
		if err != nil {
			c.c.anomalies++
			return
		}
		c.text = t
		c.version++
		c.c.remoteApplied++
		if len(c.pending) > 0 {
			c.c.rebased++
			for j := range c.pending {
				p := &c.pending[j]
				mapped := p.cs.Map(cs, false)
				cs = cs.Map(p.cs, true)
				p.cs = mapped
				p.raw = nil
			}
		}
		c.localLen += cs.LenAfter() - cs.LenBefore()
		if ok {
			if a := c.room.lg.authors[idx]; a != nil {
				if pushed, typed, found := a.times(seq); found && pushed > 0 {
					if a.node != c.node {
						c.lat.add(&c.lat.remote, now-pushed, pushed)
						c.lat.add(&c.lat.typedRemote, now-typed, typed)
					} else {
						c.lat.add(&c.lat.local, now-pushed, pushed)
					}
				}
			}
		}
	}
}

func (c *client) pull() {
	if c.pulling != "" {
		return
	}
	c.nextID++
	c.pulling = "p" + strconv.Itoa(c.nextID)
	b, _ := json.Marshal(map[string]any{"t": "pull", "id": c.pulling, "field": c.field, "epoch": c.epoch, "since": c.version})
	if err := c.write(b); err != nil {
		c.pulling = ""
	}
}

// keystroke types one character at the end of the local text.
func (c *client) keystroke(ch byte, now int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ws == nil || c.readErr != nil {
		return
	}
	var js string
	if c.localLen == 0 {
		js = `[[0,"` + string(ch) + `"]]`
	} else {
		js = `[` + strconv.Itoa(c.localLen) + `,[0,"` + string(ch) + `"]]`
	}
	cs, err := changeset.Parse([]byte(js))
	if err != nil {
		c.c.anomalies++
		return
	}
	seq := c.nextSeq
	c.nextSeq++
	c.me.setTyped(seq, now)
	c.pending = append(c.pending, pendingUpdate{seq: seq, cs: cs, raw: []byte(js)})
	c.localLen++
	c.c.keystrokes++
	c.maybePush(now)
	c.notifyLocked()
}

// maybePush sends the pending updates when nothing is in flight and the
// client is not catching up.
func (c *client) maybePush(now int64) {
	if c.flight != nil || len(c.pending) == 0 || c.version < c.waitFor || c.pulling != "" || c.ws == nil || now < c.retryAt {
		return
	}
	n := min(len(c.pending), 100)
	c.nextID++
	id := "u" + strconv.Itoa(c.nextID)
	var b strings.Builder
	b.WriteString(`{"t":"push","id":"`)
	b.WriteString(id)
	b.WriteString(`","field":"`)
	b.WriteString(c.field)
	b.WriteString(`","epoch":"`)
	b.WriteString(c.epoch)
	b.WriteString(`","version":`)
	b.WriteString(strconv.FormatInt(c.version, 10))
	b.WriteString(`,"updates":[`)
	for i := 0; i < n; i++ {
		p := &c.pending[i]
		if p.raw == nil {
			raw, err := p.cs.MarshalJSON()
			if err != nil {
				c.c.anomalies++
				return
			}
			p.raw = raw
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"clientID":"`)
		b.WriteString(c.clientID(p.seq))
		b.WriteString(`","changes":`)
		b.Write(p.raw)
		b.WriteByte('}')
	}
	b.WriteString(`]}`)
	sent := time.Now().UnixNano()
	for i := 0; i < n; i++ {
		c.me.setPushed(c.pending[i].seq, sent)
	}
	c.flight = &inFlight{id: id, n: n, version: c.version, sentAt: sent}
	c.c.pushes++
	c.c.pushedUpdates += int64(n)
	if err := c.write([]byte(b.String())); err != nil {
		c.c.errors["write"]++
	}
}

func (c *client) write(b []byte) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return c.ws.WriteMessage(websocket.TextMessage, b)
}

// tick retries a refused push once its pause is over.
func (c *client) tick(now int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ws != nil && c.readErr == nil {
		c.maybePush(now)
	}
}

func (c *client) notifyLocked() {
	close(c.settled)
	c.settled = make(chan struct{})
}

// idle reports whether everything typed is confirmed.
func (c *client) idle() (bool, int64, chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pending) == 0 && c.flight == nil && c.pulling == "", c.version, c.settled
}

// snapshot returns the confirmed text and version.
func (c *client) snapshot() (string, int64, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.text, c.version, c.epoch
}

func (c *client) close() {
	c.stopped.Store(true)
	if c.ws == nil {
		return
	}
	c.writeMu.Lock()
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	c.writeMu.Unlock()
	_ = c.ws.Close()
}

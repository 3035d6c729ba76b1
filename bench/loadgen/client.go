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
// the way @codemirror/collab does for each text field it follows: one push
// in flight per field, local keystrokes queued behind it and all sent in
// the next push, remote updates rebasing the queue. Doing it here rather
// than through internal/client lets it timestamp the exact moment each
// push is written and each reply read.

// author is what every client knows about another one: when each of its
// updates was pushed and typed, for delivery latencies. Receivers look an
// update up by its clientID, "lg<author>.<seq>".
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

// fieldState is one text field as a client holds it: the confirmed text
// and version, and its own unconfirmed updates (@codemirror/collab's
// sendableUpdates).
type fieldState struct {
	name     string
	epoch    string
	version  int64
	text     string
	localLen int // UTF-16 length of text with every pending update applied
	pending  []pendingUpdate
	flight   *inFlight
	waitFor  int64 // after "behind": do not push before reaching this version
	pulling  string
	retryAt  int64 // after a refused push: not before this time (unix ns)
}

func (f *fieldState) idle() bool { return len(f.pending) == 0 && f.flight == nil && f.pulling == "" }

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
	typedInWindow int64 // keystrokes typed inside the window
}

type client struct {
	idx       int // global index, also the clientID prefix
	room      *roomRun
	node      int
	seat      string
	typeField string // the field this client types into; "" for a watcher
	follow    []string
	measured  bool // its latencies count (false for the attacked room)
	slow      bool // connected through the delay proxy
	me        *author
	lat       *latencies
	window    *window

	ws      *websocket.Conn
	writeMu sync.Mutex

	mu        sync.Mutex
	fields    map[string]*fieldState
	nextID    int
	nextSeq   int
	c         counters
	connectNs int64           // dial started → welcome read and applied
	typed     strings.Builder // every character this client typed, in order
	closeCode int
	readErr   error
	okWait    map[string]chan string // act id → reply code ("" for ok)
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

// dialWelcome opens a socket and reads the welcome: what a browser does
// before it shows a synced document. It returns the socket, the welcome and
// how long that took.
//
// addr is the client's made-up address, sent as X-Forwarded-For (the nodes
// trust loopback as a proxy): one per room, as if each couple and their
// therapist were at home, so per-address socket limits apply per room and
// not to the whole load generator.
func dialWelcome(ctx context.Context, wsURL, origin, addr string) (*websocket.Conn, serverFrame, time.Duration, error) {
	var f serverFrame
	t0 := time.Now()
	d := websocket.Dialer{HandshakeTimeout: 15 * time.Second, ReadBufferSize: 4 << 10, WriteBufferSize: 4 << 10}
	ws, resp, err := d.DialContext(ctx, wsURL, http.Header{"Origin": {origin}, "X-Forwarded-For": {addr}})
	if err != nil {
		if resp != nil {
			return nil, f, 0, fmt.Errorf("dial: HTTP %d: %w", resp.StatusCode, err)
		}
		return nil, f, 0, fmt.Errorf("dial: %w", err)
	}
	ws.SetReadLimit(64 << 20)
	_ = ws.SetReadDeadline(time.Now().Add(15 * time.Second))
	_, raw, err := ws.ReadMessage()
	if err != nil {
		_ = ws.Close()
		return nil, f, 0, fmt.Errorf("waiting for the welcome: %w", err)
	}
	if err := json.Unmarshal(raw, &f); err != nil || f.T != "welcome" {
		_ = ws.Close()
		return nil, f, 0, fmt.Errorf("first frame is not a welcome: %.200s", raw)
	}
	el := time.Since(t0)
	_ = ws.SetReadDeadline(time.Time{})
	return ws, f, el, nil
}

// dial connects and processes the welcome.
func (c *client) dial(ctx context.Context, wsURL, origin string) error {
	ws, f, el, err := dialWelcome(ctx, wsURL, origin, c.room.addr)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fields = map[string]*fieldState{}
	for _, name := range c.follow {
		snap, ok := f.Fields[name]
		if !ok {
			_ = ws.Close()
			return fmt.Errorf("the welcome has no field %q", name)
		}
		c.fields[name] = &fieldState{name: name, epoch: snap.Epoch, version: snap.Version, text: snap.Text, localLen: changeset.UTF16Len(snap.Text)}
	}
	c.ws = ws
	c.connectNs = int64(el)
	c.c.errors = map[string]int64{}
	c.okWait = map[string]chan string{}
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
			c.mu.Unlock()
			return
		}
		c.handle(raw, now)
	}
}

// flightField finds the field whose push or pull id is re.
func (c *client) flightField(re string) (*fieldState, bool) {
	if re == "" {
		return nil, false
	}
	for _, f := range c.fields {
		if f.flight != nil && f.flight.id == re {
			return f, true
		}
	}
	for _, f := range c.fields {
		if f.pulling == re {
			return f, false
		}
	}
	return nil, false
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
	case "updates", "ack", "behind", "reset", "error", "heads", "ok":
	default:
		return // members, presence, room: not measured
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	fs := c.fields[f.Field]
	switch f.T {
	case "ok":
		if ch, ok := c.okWait[f.Re]; ok {
			ch <- ""
			delete(c.okWait, f.Re)
		}
	case "updates":
		if fs != nil {
			if f.Re != "" && f.Re == fs.pulling {
				fs.pulling = ""
			}
			c.onUpdates(fs, f, now)
		}
	case "ack":
		if fs != nil {
			c.onAck(fs, f, now)
		}
	case "behind":
		if fs != nil && fs.flight != nil && f.Re == fs.flight.id {
			fs.flight = nil
			c.c.behind++
			fs.waitFor = f.Version
		}
	case "reset":
		// Not expected here (epochs do not change, logs reach back far
		// enough). Take the snapshot when nothing is pending; otherwise
		// count it: the convergence check will show the damage.
		c.c.resets++
		if fs == nil {
			break
		}
		if f.Re != "" && f.Re == fs.pulling {
			fs.pulling = ""
		}
		if fs.flight != nil && f.Re == fs.flight.id {
			fs.flight = nil
		}
		if len(fs.pending) == 0 {
			fs.epoch, fs.version, fs.text = f.Epoch, f.Version, f.Text
			fs.localLen = changeset.UTF16Len(f.Text)
		} else {
			c.c.anomalies++
		}
	case "heads":
		for name, h := range f.Fields {
			if s := c.fields[name]; s != nil && h.Version > s.version {
				c.pull(s)
			}
		}
	case "error":
		code := f.Code
		if code == "" {
			code = "unknown"
		}
		c.c.errors[code]++
		if ch, ok := c.okWait[f.Re]; ok {
			ch <- code
			delete(c.okWait, f.Re)
		}
		if s, isPush := c.flightField(f.Re); s != nil {
			if isPush {
				// Refused push: nothing was stored. Push again a
				// little later (next keystroke, frame or tick).
				s.flight = nil
				s.retryAt = now + int64(200*time.Millisecond)
			} else {
				s.pulling = ""
			}
		}
	}
	for _, s := range c.fields {
		c.maybePush(s, now)
	}
}

func (c *client) onAck(fs *fieldState, f serverFrame, now int64) {
	fl := fs.flight
	if fl == nil || f.Re != fl.id {
		c.c.anomalies++
		return
	}
	fs.flight = nil
	c.c.acks++
	if c.window.in(now) {
		c.c.ackedUpdates += int64(fl.n)
	}
	if c.measured {
		c.lat.add(&c.lat.ack, now-fl.sentAt, fl.sentAt)
		if c.slow {
			c.lat.add(&c.lat.slowAck, now-fl.sentAt, fl.sentAt)
		}
	}
	// The echo has not come yet and nothing came between: the ack alone
	// confirms our updates. When the server rebased the push over updates
	// we have not received yet (ack version above fl.version+n), the
	// updates frames bring them and ours, by clientID, as
	// @codemirror/collab expects: wait for them.
	if fs.version < f.Version && fs.version == fl.version && f.Version == fl.version+int64(fl.n) {
		if len(fs.pending) < fl.n {
			c.c.anomalies++
			return
		}
		for i := 0; i < fl.n; i++ {
			c.confirmFirst(fs)
		}
	}
}

// confirmFirst applies the oldest pending update to the confirmed text.
func (c *client) confirmFirst(fs *fieldState) {
	p := fs.pending[0]
	t, err := p.cs.Apply(fs.text)
	if err != nil {
		c.c.anomalies++
	} else {
		fs.text = t
	}
	fs.pending = fs.pending[1:]
	fs.version++
}

func (c *client) onUpdates(fs *fieldState, f serverFrame, now int64) {
	if f.Epoch != fs.epoch {
		c.c.anomalies++
		return
	}
	if f.From > fs.version {
		c.c.gaps++
		c.pull(fs)
		return
	}
	mine := `{"clientID":"lg` + strconv.Itoa(c.idx) + `.`
	for i, raw := range f.Updates {
		v := f.From + int64(i)
		if v < fs.version {
			// Already have it: our own update confirmed by the ack, or
			// a remote one delivered twice.
			if !strings.HasPrefix(string(raw), mine) {
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
			if len(fs.pending) == 0 || fs.pending[0].seq != seq {
				c.c.anomalies++
				return
			}
			c.confirmFirst(fs)
			continue
		}
		cs, err := changeset.Parse(u.Changes)
		if err != nil {
			c.c.anomalies++
			return
		}
		t, err := cs.Apply(fs.text)
		if err != nil {
			c.c.anomalies++
			return
		}
		fs.text = t
		fs.version++
		c.c.remoteApplied++
		if len(fs.pending) > 0 {
			c.c.rebased++
			for j := range fs.pending {
				p := &fs.pending[j]
				mapped := p.cs.Map(cs, false)
				cs = cs.Map(p.cs, true)
				p.cs = mapped
				p.raw = nil
			}
		}
		fs.localLen += cs.LenAfter() - cs.LenBefore()
		if ok && c.measured {
			if a := c.room.lg.authors[idx]; a != nil {
				if pushed, typed, found := a.times(seq); found && pushed > 0 {
					c.lat.add(&c.lat.typedAll, now-typed, typed)
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

func (c *client) pull(fs *fieldState) {
	if fs.pulling != "" {
		return
	}
	c.nextID++
	fs.pulling = "p" + strconv.Itoa(c.nextID)
	b, _ := json.Marshal(map[string]any{"t": "pull", "id": fs.pulling, "field": fs.name, "epoch": fs.epoch, "since": fs.version})
	if err := c.write(b); err != nil {
		fs.pulling = ""
	}
}

// act sends a room act and waits for its ok (or error code).
func (c *client) act(ctx context.Context, fields map[string]any) error {
	c.mu.Lock()
	c.nextID++
	id := "a" + strconv.Itoa(c.nextID)
	ch := make(chan string, 1)
	c.okWait[id] = ch
	m := map[string]any{"t": "act", "id": id}
	for k, v := range fields {
		m[k] = v
	}
	b, _ := json.Marshal(m)
	err := c.write(b)
	c.mu.Unlock()
	if err != nil {
		return err
	}
	select {
	case code := <-ch:
		if code != "" {
			return fmt.Errorf("act %v: %s", fields, code)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("act %v: %w", fields, ctx.Err())
	}
}

// keystroke types one character at the end of the client's field.
func (c *client) keystroke(ch byte, now int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fs := c.fields[c.typeField]
	if c.ws == nil || c.readErr != nil || fs == nil {
		return
	}
	var js string
	if fs.localLen == 0 {
		js = `[[0,"` + string(ch) + `"]]`
	} else {
		js = `[` + strconv.Itoa(fs.localLen) + `,[0,"` + string(ch) + `"]]`
	}
	cs, err := changeset.Parse([]byte(js))
	if err != nil {
		c.c.anomalies++
		return
	}
	seq := c.nextSeq
	c.nextSeq++
	c.me.setTyped(seq, now)
	fs.pending = append(fs.pending, pendingUpdate{seq: seq, cs: cs, raw: []byte(js)})
	fs.localLen++
	c.typed.WriteByte(ch)
	c.c.keystrokes++
	if c.window.in(now) {
		c.c.typedInWindow++
	}
	c.maybePush(fs, now)
}

// maybePush sends every pending update of fs (at most 100, the protocol's
// limit) when nothing is in flight for it and it is not catching up: what
// @codemirror/collab's sendableUpdates and a peer extension do.
func (c *client) maybePush(fs *fieldState, now int64) {
	if fs.flight != nil || len(fs.pending) == 0 || fs.version < fs.waitFor || fs.pulling != "" || c.ws == nil || now < fs.retryAt {
		return
	}
	n := min(len(fs.pending), 100)
	c.nextID++
	id := "u" + strconv.Itoa(c.nextID)
	var b strings.Builder
	b.WriteString(`{"t":"push","id":"`)
	b.WriteString(id)
	b.WriteString(`","field":"`)
	b.WriteString(fs.name)
	b.WriteString(`","epoch":"`)
	b.WriteString(fs.epoch)
	b.WriteString(`","version":`)
	b.WriteString(strconv.FormatInt(fs.version, 10))
	b.WriteString(`,"updates":[`)
	for i := 0; i < n; i++ {
		p := &fs.pending[i]
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
		c.me.setPushed(fs.pending[i].seq, sent)
	}
	fs.flight = &inFlight{id: id, n: n, version: fs.version, sentAt: sent}
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
		for _, s := range c.fields {
			c.maybePush(s, now)
		}
	}
}

// idle reports whether everything typed is confirmed, and the version of
// field name.
func (c *client) idle(name string) (bool, int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	all := true
	for _, s := range c.fields {
		all = all && s.idle()
	}
	if s := c.fields[name]; s != nil {
		return all, s.version
	}
	return all, -1
}

// snapshot returns the confirmed text, version and epoch of field name.
func (c *client) snapshot(name string) (string, int64, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.fields[name]
	if s == nil {
		return "", -1, ""
	}
	return s.text, s.version, s.epoch
}

// typedText is everything the client typed.
func (c *client) typedText() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.typed.String()
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

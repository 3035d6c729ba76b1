// Package client speaks the Repair Room WebSocket protocol (docs/protocol.md)
// from Go: for tests, and for the load generator.
//
// A Client holds every text field it may read the way an editor with
// @codemirror/collab does: per text key an epoch, the confirmed version and
// text, and the local edits the server has not confirmed yet. Local edits
// are pushed at the confirmed version, one push in flight per field; the
// server's "updates" confirm our own (matched by clientID) and rebase our
// unconfirmed edits over everyone else's. After a disconnect the client
// reconnects (Reconnect, or by itself with Options.AutoReconnect) and
// resumes from its versions; a pending edit is never dropped.
//
// The protocol logic lives in session (no I/O) and doc (one text); this
// file is the connection: one reader goroutine per socket, writes
// serialised by a mutex, reconnection with backoff.
package client

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/fasthttp/websocket"
)

// Options tune a Client. The zero value works.
type Options struct {
	// ClientID names this editor's updates; random when empty. Keep it
	// unique per client: updates carrying it are taken as ours.
	ClientID string
	// AltURLs are other nodes' WebSocket URLs (with the token) to try when
	// reconnecting, after the one that worked last.
	AltURLs []string
	// AutoReconnect reconnects after a lost connection, with backoff,
	// unless the server closed it for good (4001, 4003, 4004).
	AutoReconnect bool
	// MinBackoff and MaxBackoff bound the wait between reconnection
	// attempts (defaults 20ms and 2s); it doubles after each failure.
	MinBackoff, MaxBackoff time.Duration
	// HandshakeTimeout bounds dialing and waiting for the welcome (10s).
	HandshakeTimeout time.Duration
	// ReadTimeout: a connection silent for this long is dead (server pings
	// every 25s; default 75s).
	ReadTimeout time.Duration
	// WriteTimeout bounds one write (10s).
	WriteTimeout time.Duration
	// Record keeps every frame received (Frames), every acknowledged push
	// (Acks) and every confirmed own update (Confirmations).
	Record bool
	// OnFrame, when set, sees every frame received after the welcome,
	// before the client processes it, on the reader goroutine. Returning
	// false makes the client ignore the frame: tests use it to lose
	// messages. It may call Drop.
	OnFrame func(raw []byte) bool
}

func (o Options) withDefaults() Options {
	if o.MinBackoff <= 0 {
		o.MinBackoff = 20 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 2 * time.Second
	}
	if o.HandshakeTimeout <= 0 {
		o.HandshakeTimeout = 10 * time.Second
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = 75 * time.Second
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.ClientID == "" {
		b := make([]byte, 8)
		_, _ = crand.Read(b)
		o.ClientID = hex.EncodeToString(b)
	}
	return o
}

// Errors of the client itself.
var (
	ErrClosed         = errors.New("client: closed")
	ErrNotConnected   = errors.New("client: not connected")
	ErrConnectionLost = errors.New("client: connection lost before the reply")
	ErrUnknownField   = errors.New("client: unknown field")
)

// HandshakeError is an upgrade the server refused with an HTTP status
// (401 bad token, 403 origin, 404 no room: reconnecting will not help;
// 503 and 429 too_many_sockets_*: Transient, retried with backoff).
type HandshakeError struct {
	Status int
	Code   string // the body's code, e.g. "bad_token"
	Body   string
}

func (e *HandshakeError) Error() string {
	return fmt.Sprintf("client: upgrade refused: HTTP %d %s", e.Status, e.Code)
}

// Transient reports whether the refusal may go away by itself, so the
// client retries with backoff instead of stopping: 503 (storage briefly
// unreachable) and 429 too_many_sockets_* (a socket limit; after a quick
// drop and reconnect the server may still count the old socket until its
// handler has noticed the drop, and a person on a flaky network must never
// be locked out by their own ghost).
func (e *HandshakeError) Transient() bool {
	return e.Status == http.StatusServiceUnavailable ||
		e.Status == http.StatusTooManyRequests && strings.HasPrefix(e.Code, "too_many_sockets")
}

// Client is one participant's connection to a room. It is safe for
// concurrent use.
type Client struct {
	opts   Options
	origin string
	urls   []string // urls[0] is the one that worked last

	ctx    context.Context // ends with Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // reader, reconnect loop, ticker

	dialMu  sync.Mutex // one dial at a time
	writeMu sync.Mutex // taken while mu is held, released after the writes

	mu           sync.Mutex
	s            *session
	conn         *websocket.Conn
	gen          int // bumped whenever the connection changes; frames of older ones are ignored
	closed       bool
	err          error // terminal: closed for good
	reconnecting bool
	waiters      map[string]chan reply
	dialAfter    time.Time // after a flood close, wait before reconnecting
	frames       [][]byte
	changed      chan struct{} // closed and replaced on every change
	connects     int
}

type reply struct {
	raw []byte
	f   serverFrame
	err error
}

// Dial connects to a room: wsURL is the room's WebSocket address with
// ?token=, origin the Origin header the server expects. It returns once
// the welcome has been processed.
func Dial(ctx context.Context, wsURL, origin string, opts Options) (*Client, error) {
	opts = opts.withDefaults()
	urls := append([]string{wsURL}, opts.AltURLs...)
	c := &Client{opts: opts, origin: origin, urls: urls,
		s:       newSession(opts.ClientID, opts.Record),
		waiters: map[string]chan reply{}, changed: make(chan struct{})}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	wait := opts.MinBackoff
	for {
		err := c.connect(ctx, wsURL)
		if err == nil {
			break
		}
		// A socket-limit refusal is retried until ctx ends (see
		// HandshakeError.Transient); anything else is the caller's to judge.
		var he *HandshakeError
		if !errors.As(err, &he) || he.Status != http.StatusTooManyRequests || !he.Transient() {
			c.cancel()
			return nil, err
		}
		t := time.NewTimer(wait/2 + rand.N(wait/2+1))
		select {
		case <-ctx.Done():
			t.Stop()
			c.cancel()
			return nil, err
		case <-t.C:
		}
		wait = min(wait*2, opts.MaxBackoff)
	}
	c.wg.Add(1)
	go c.ticker()
	return c, nil
}

// ClientID is the id our updates carry.
func (c *Client) ClientID() string { return c.opts.ClientID }

// connect dials url, reads the welcome and installs the connection.
func (c *Client) connect(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, c.opts.HandshakeTimeout)
	defer cancel()
	d := websocket.Dialer{HandshakeTimeout: c.opts.HandshakeTimeout, ReadBufferSize: 16 << 10, WriteBufferSize: 16 << 10}
	h := http.Header{}
	if c.origin != "" {
		h.Set("Origin", c.origin)
	}
	conn, resp, err := d.DialContext(ctx, url, h)
	if err != nil {
		if resp != nil && resp.StatusCode >= 400 && resp.StatusCode < 500 {
			he := &HandshakeError{Status: resp.StatusCode}
			if resp.Body != nil {
				b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
				he.Body = string(b)
				var body struct{ Code string }
				_ = json.Unmarshal(b, &body)
				he.Code = body.Code
			}
			return he
		}
		return fmt.Errorf("client: dial: %w", err)
	}
	conn.SetReadLimit(64 << 20)
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetReadDeadline(dl)
	}
	_, raw, err := conn.ReadMessage()
	if err != nil {
		_ = conn.Close()
		var ce *websocket.CloseError
		if errors.As(err, &ce) && terminalClose(ce.Code) {
			return &CloseError{Code: ce.Code, Text: ce.Text}
		}
		return fmt.Errorf("client: waiting for the welcome: %w", err)
	}
	if f, err := decodeFrame(raw); err != nil || f.T != "welcome" {
		_ = conn.Close()
		return fmt.Errorf("client: the server spoke first with %.200q, not a welcome", raw)
	}
	conn.SetPingHandler(func(data string) error {
		_ = conn.SetReadDeadline(time.Now().Add(c.opts.ReadTimeout))
		err := conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(c.opts.WriteTimeout))
		if err != nil && !errors.Is(err, websocket.ErrCloseSent) {
			return err
		}
		return nil
	})

	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		_ = conn.Close()
		return ErrClosed
	}
	if c.conn != nil {
		// Someone else connected meanwhile; keep theirs.
		c.mu.Unlock()
		_ = conn.Close()
		return nil
	}
	c.gen++
	gen := c.gen
	c.conn = conn
	c.connects++
	for i, u := range c.urls {
		if u == url {
			c.urls[0], c.urls[i] = c.urls[i], c.urls[0]
			break
		}
	}
	c.s.online = true
	if c.opts.Record {
		c.frames = append(c.frames, raw)
	}
	c.s.handle(raw, time.Now())
	c.wg.Add(1)
	go c.read(conn, gen)
	c.notifyLocked()
	c.unlockAndFlush(conn, gen)
	return nil
}

// read is the connection's only reader.
func (c *Client) read(conn *websocket.Conn, gen int) {
	defer c.wg.Done()
	for {
		_ = conn.SetReadDeadline(time.Now().Add(c.opts.ReadTimeout))
		_, raw, err := conn.ReadMessage()
		if err != nil {
			c.lost(conn, gen, err)
			return
		}
		c.mu.Lock()
		if gen != c.gen {
			c.mu.Unlock()
			return
		}
		if c.opts.Record {
			c.frames = append(c.frames, raw)
		}
		c.mu.Unlock()
		if c.opts.OnFrame != nil && !c.opts.OnFrame(raw) {
			continue
		}
		c.mu.Lock()
		if gen != c.gen {
			c.mu.Unlock()
			return
		}
		f, ok := c.s.handle(raw, time.Now())
		if ok && f.Re != "" {
			if w, found := c.waiters[f.Re]; found {
				delete(c.waiters, f.Re)
				w <- reply{raw: raw, f: f}
			}
		}
		c.notifyLocked()
		c.unlockAndFlush(conn, gen)
	}
}

// unlockAndFlush writes what the session queued, in order, then returns
// with mu released. Taking writeMu before releasing mu keeps messages in
// the order the session decided them.
func (c *Client) unlockAndFlush(conn *websocket.Conn, gen int) {
	out := c.s.take()
	if len(out) == 0 || conn == nil || gen != c.gen {
		c.mu.Unlock()
		return
	}
	c.writeMu.Lock()
	c.mu.Unlock()
	defer c.writeMu.Unlock()
	for _, b := range out {
		_ = conn.SetWriteDeadline(time.Now().Add(c.opts.WriteTimeout))
		if err := conn.WriteMessage(websocket.TextMessage, b); err != nil {
			// The reader will notice too and take the loss from there.
			_ = conn.NetConn().Close()
			return
		}
	}
}

// flushLocked is unlockAndFlush on the current connection.
func (c *Client) flushLocked() { c.unlockAndFlush(c.conn, c.gen) }

func (c *Client) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// lost ends connection gen after a read error.
func (c *Client) lost(conn *websocket.Conn, gen int, err error) {
	_ = conn.Close()
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	c.detachLocked()
	var ce *websocket.CloseError
	if errors.As(err, &ce) && terminalClose(ce.Code) {
		c.err = &CloseError{Code: ce.Code, Text: ce.Text}
		return
	}
	if errors.As(err, &ce) && ce.Code == 4029 {
		c.dialAfter = time.Now().Add(time.Second)
	}
	c.startReconnectLocked()
}

// detachLocked forgets the current connection.
func (c *Client) detachLocked() {
	c.gen++
	c.conn = nil
	c.s.disconnected()
	for id, w := range c.waiters {
		delete(c.waiters, id)
		w <- reply{err: ErrConnectionLost}
	}
	c.notifyLocked()
}

func (c *Client) startReconnectLocked() {
	if !c.opts.AutoReconnect || c.closed || c.err != nil || c.reconnecting {
		return
	}
	c.reconnecting = true
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		for {
			_ = c.redial(c.ctx)
			c.mu.Lock()
			// A connection lost while this loop was finishing found it
			// still running and started none: go on unless connected.
			if c.conn != nil || c.closed || c.err != nil || c.ctx.Err() != nil {
				c.reconnecting = false
				c.mu.Unlock()
				return
			}
			c.mu.Unlock()
		}
	}()
}

// redial tries the known URLs, with backoff, until one connects, ctx ends,
// or the server refuses us for good.
func (c *Client) redial(ctx context.Context) error {
	wait := c.opts.MinBackoff
	for attempt := 0; ; attempt++ {
		c.mu.Lock()
		switch {
		case c.closed:
			c.mu.Unlock()
			return ErrClosed
		case c.err != nil:
			err := c.err
			c.mu.Unlock()
			return err
		case c.conn != nil:
			c.mu.Unlock()
			return nil
		}
		url := c.urls[attempt%len(c.urls)]
		pause := time.Until(c.dialAfter)
		c.mu.Unlock()
		if pause > 0 {
			t := time.NewTimer(pause)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}

		c.dialMu.Lock()
		err := c.connect(ctx, url)
		c.dialMu.Unlock()
		if err == nil {
			return nil
		}
		var he *HandshakeError
		var ce *CloseError
		if errors.As(err, &he) && !he.Transient() || errors.As(err, &ce) || errors.Is(err, ErrClosed) {
			c.mu.Lock()
			if c.err == nil && !errors.Is(err, ErrClosed) {
				c.err = err
			}
			c.notifyLocked()
			c.mu.Unlock()
			return err
		}
		if (attempt+1)%len(c.urls) != 0 {
			continue // try the other nodes before waiting
		}
		t := time.NewTimer(wait/2 + rand.N(wait/2+1))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait = min(wait*2, c.opts.MaxBackoff)
	}
}

// ticker runs the session's safety nets (lost replies, stalled versions).
func (c *Client) ticker() {
	defer c.wg.Done()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
		}
		c.mu.Lock()
		if c.conn == nil {
			c.mu.Unlock()
			continue
		}
		c.s.tick(time.Now())
		c.flushLocked()
	}
}

// Drop closes the socket abruptly, without a close frame, as a network
// failure would, and reports whether there was one to close. With
// AutoReconnect the client reconnects by itself; otherwise call Reconnect.
func (c *Client) Drop() bool {
	c.mu.Lock()
	conn := c.conn
	if conn == nil {
		c.mu.Unlock()
		return false
	}
	c.detachLocked()
	c.startReconnectLocked()
	c.mu.Unlock()
	_ = conn.NetConn().Close()
	return true
}

// Reconnect drops the current connection, if any, and connects again
// (trying the other URLs in turn), then resumes every field: same epoch,
// pull what was missed and push the pending edits; another epoch, take the
// snapshot and rebase the pending edits onto it.
func (c *Client) Reconnect(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	conn := c.conn
	if conn != nil {
		c.detachLocked()
	}
	c.mu.Unlock()
	if conn != nil {
		_ = conn.NetConn().Close()
	}
	return c.redial(ctx)
}

// Close ends the connection (normal closure) and stops reconnecting.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	conn := c.conn
	c.detachLocked()
	c.mu.Unlock()
	c.cancel()
	if conn != nil {
		c.writeMu.Lock()
		_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		c.writeMu.Unlock()
		_ = conn.Close()
	}
	c.wg.Wait()
	return nil
}

// Connected reports whether the client has a live connection.
func (c *Client) Connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conn != nil
}

// URL is the address of the current connection, or of the last one.
func (c *Client) URL() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.urls[0]
}

// Connects counts the connections made so far (the first one included).
func (c *Client) Connects() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.connects
}

// Err is the error that stopped the client for good, if any.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Edit replaces del UTF-16 units at pos of key's local text with insert.
// The edit is pushed as soon as the field may push.
func (c *Client) Edit(key string, pos, del int, insert string) error {
	c.mu.Lock()
	if err := c.s.edit(key, pos, del, insert); err != nil {
		c.mu.Unlock()
		return err
	}
	c.s.pump(time.Now())
	c.notifyLocked()
	c.flushLocked()
	return nil
}

// EditWith is Edit with the range chosen by fn from the local text as it
// is at that moment: remote updates cannot move the text under it.
func (c *Client) EditWith(key string, fn func(text string) (pos, del int, insert string)) error {
	c.mu.Lock()
	d, ok := c.s.fields[key]
	if !ok {
		c.mu.Unlock()
		return fmt.Errorf("%w: no text %q", ErrUnknownField, key)
	}
	pos, del, insert := fn(d.text)
	if err := c.s.edit(key, pos, del, insert); err != nil {
		c.mu.Unlock()
		return err
	}
	c.s.pump(time.Now())
	c.notifyLocked()
	c.flushLocked()
	return nil
}

// Text returns key's local text, pending edits included.
func (c *Client) Text(key string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d, ok := c.s.fields[key]; ok {
		return d.text
	}
	return ""
}

// Confirmed returns key's text as the server confirmed it, and its version.
func (c *Client) Confirmed(key string) (string, int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d, ok := c.s.fields[key]; ok {
		return d.confirmed, d.version
	}
	return "", 0
}

// Epoch returns key's epoch ("" for an unknown key).
func (c *Client) Epoch(key string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d, ok := c.s.fields[key]; ok {
		return d.epoch
	}
	return ""
}

// Has reports whether the client holds text key.
func (c *Client) Has(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.s.fields[key]
	return ok
}

// Keys returns the text keys the client holds.
func (c *Client) Keys() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.s.sortedKeys()
}

// Pending counts the local updates not confirmed yet, over all fields.
func (c *Client) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.s.pendingCount()
}

// Room returns the latest room state received.
func (c *Client) Room() json.RawMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.s.room
}

// Members returns the latest member list received.
func (c *Client) Members() json.RawMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.s.members
}

// Welcome returns the latest welcome.
func (c *Client) Welcome() *Welcome {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.s.welcome
}

// Frames returns every frame received so far (with Options.Record).
func (c *Client) Frames() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]byte(nil), c.frames...)
}

// Acks returns every acknowledged push (with Options.Record).
func (c *Client) Acks() []Ack {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Ack(nil), c.s.acks...)
}

// Confirmations returns our updates as the server confirmed them, in
// order (with Options.Record).
func (c *Client) Confirmations() []Confirmation {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Confirmation(nil), c.s.confirmations...)
}

// Anomalies counts frames that did not fit what the client held (each
// one was mended with a pull or a snapshot).
func (c *Client) Anomalies() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.s.anomalies
}

// Emptied counts key's updates of ours that were dropped unsent because
// mapping over concurrent changes emptied them (both partners deleted the
// same text at once): edits made locally that no log will ever hold.
func (c *Client) Emptied(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.s.emptied[key]
}

// Wait blocks until cond returns true, ctx ends, or the client stops for
// good. cond runs without the client's lock and may call its methods; it
// is evaluated again after every frame and connection change.
func (c *Client) Wait(ctx context.Context, cond func() bool) error {
	for {
		c.mu.Lock()
		ch, err := c.changed, c.err
		c.mu.Unlock()
		if cond() {
			return nil
		}
		if err != nil {
			return err
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("client: waiting: %w", ctx.Err())
		}
	}
}

// CatchUp waits until key's confirmed version reaches version.
func (c *Client) CatchUp(ctx context.Context, key string, version int64) error {
	return c.Wait(ctx, func() bool { _, v := c.Confirmed(key); return v >= version })
}

// Sync pushes every pending edit and waits until nothing is pending and no
// push is in flight. Pushes refused earlier are tried again; a push refused
// now (a *ServerError: forbidden, on_break, locked...) ends the wait with
// that error, and its edits stay pending. Without AutoReconnect, a lost
// connection ends it with ErrNotConnected; a client stopped for good (Err,
// Close) returns that error even with nothing pending.
func (c *Client) Sync(ctx context.Context) error {
	c.mu.Lock()
	for _, d := range c.s.fields {
		d.refused = nil
	}
	mark := c.s.refusals
	c.s.pump(time.Now())
	c.flushLocked()
	for {
		c.mu.Lock()
		done, err := c.s.settled(mark)
		switch {
		case c.err != nil:
			done, err = false, c.err
		case c.closed:
			done, err = false, ErrClosed
		case err == nil && c.conn == nil && !c.opts.AutoReconnect && !done:
			err = ErrNotConnected
		}
		ch := c.changed
		c.mu.Unlock()
		if done {
			return nil
		}
		if err != nil {
			return err
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("client: sync: %w", ctx.Err())
		}
	}
}

// Request sends any message with a fresh id and returns the first reply
// about it (ack, behind, reset, ok, updates or error frame). An error
// frame is returned as its raw bytes and a *ServerError.
func (c *Client) Request(ctx context.Context, msg map[string]any) (json.RawMessage, error) {
	m := maps.Clone(msg)
	if m == nil {
		m = map[string]any{}
	}
	ch := make(chan reply, 1)
	c.mu.Lock()
	if c.conn == nil {
		err := c.err
		c.mu.Unlock()
		if err == nil {
			err = ErrNotConnected
		}
		return nil, err
	}
	id := c.s.newID("r")
	m["id"] = id
	b, err := json.Marshal(m)
	if err != nil {
		c.mu.Unlock()
		return nil, fmt.Errorf("client: encoding request: %w", err)
	}
	c.waiters[id] = ch
	c.s.out = append(c.s.out, b)
	c.flushLocked()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, r.err
		}
		if r.f.T == "error" {
			return r.raw, &ServerError{Code: r.f.Code, Message: r.f.Message}
		}
		return r.raw, nil
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.waiters, id)
		c.mu.Unlock()
		return nil, fmt.Errorf("client: waiting for the reply: %w", ctx.Err())
	}
}

// Act sends a room act, e.g. {"act": "stage.set", "stage": "hard"}, and
// waits for "ok" or an error (a *ServerError). The new state arrives
// afterwards in a "room" message (see Room and Wait).
func (c *Client) Act(ctx context.Context, act map[string]any) (json.RawMessage, error) {
	m := maps.Clone(act)
	if m == nil {
		m = map[string]any{}
	}
	m["t"] = "act"
	return c.Request(ctx, m)
}

// Presence sends where our cursor is: field may be "" (none) and sel nil.
func (c *Client) Presence(field string, sel []int) {
	m := map[string]any{"t": "presence", "field": nil, "sel": nil}
	if field != "" {
		m["field"] = field
	}
	if sel != nil {
		m["sel"] = sel
	}
	b, _ := json.Marshal(m)
	c.mu.Lock()
	if c.conn != nil {
		c.s.out = append(c.s.out, b)
	}
	c.flushLocked()
}

// String describes the client for test logs.
func (c *Client) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	role := ""
	if c.s.welcome != nil {
		role = c.s.welcome.Me.Role
	}
	fmt.Fprintf(&b, "client %s (%s, connected %v)", c.opts.ClientID, role, c.conn != nil)
	for _, k := range c.s.sortedKeys() {
		d := c.s.fields[k]
		fmt.Fprintf(&b, "\n  %s: epoch %s v%d pending %d inflight %q wait %d pulling %q refused %v", k, d.epoch, d.version, len(d.pending), d.inFlight, d.waitFor, d.pulling, d.refused)
	}
	return b.String()
}

// Checkpoint returns key's latest checkpoint the server signed (nil when
// it holds none): the text this client can restore after Redis lost it.
func (c *Client) Checkpoint(key string) *Checkpoint {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d, ok := c.s.fields[key]; ok && d.ck != nil {
		ck := *d.ck
		return &ck
	}
	return nil
}

// Seen returns, with Options.Record, the SHA-256 of the confirmed text at
// every (field, epoch, version) this client reached. Two clients that hold
// different hashes for one key saw a version number reused for other text.
func (c *Client) Seen() map[VersionKey][32]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.s.seen)
}

// Reused lists the versions this client itself saw with two texts.
func (c *Client) Reused() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.s.reused...)
}

package realtime

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/fasthttp/websocket"

	"repairroom/internal/protocol"
)

// WS is the part of a WebSocket connection the hub uses. It is satisfied by
// *websocket.Conn of gofiber/contrib/websocket and of fasthttp/websocket.
type WS interface {
	ReadMessage() (int, []byte, error)
	WriteMessage(messageType int, data []byte) error
	WriteControl(messageType int, data []byte, deadline time.Time) error
	SetReadDeadline(t time.Time) error
	SetWriteDeadline(t time.Time) error
	SetReadLimit(limit int64)
	SetPongHandler(h func(appData string) error)
	Close() error
}

const closeGoingAway = protocol.CloseGoingAway

// conn is one participant's socket. The handler goroutine reads and handles
// messages in order; a writer goroutine, started when there is something to
// write and gone when there is not (flushOut), is the only one that writes.
// Everything else talks to the socket only through deliver and kill.
type conn struct {
	h      *Hub
	ws     WS
	id     string
	p      Participant
	rh     *roomHub
	pinger *time.Timer   // owes the client a ping every PingInterval
	closed chan struct{} // closed once the writer has closed the socket

	mu        sync.Mutex
	welcomed  bool     // until the welcome is queued, fan-out is held in pending
	pending   [][]byte // messages that arrived before the welcome
	queue     [][]byte // frames for the writer, at most SendQueue
	pingOwed  bool
	pongOwed  *string // the payload of a client's ping, to be answered
	writing   bool    // a writer goroutine runs
	sockDone  bool    // the socket is closed: no writer starts again
	done      chan struct{}
	finished  bool // the handler returned: ws belongs to the pool again
	draining  bool // Shutdown expired the read deadline: never extend it again
	closeCode int
	closeText string

	// reader-only state
	bucket      *bucket // the seat's flood budget, shared by its sockets
	dropped     int
	lastLimited time.Time
	presence    presence

	extended      time.Time // when the reader last moved the read deadline (reader goroutine only)
	membersSynced bool      // the room sent this socket a whole member list (guarded by rh.members.flush)
}

func newConnID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// deliver queues a fan-out frame without ever blocking: a connection
// whose queue is full is too slow, and is closed rather than allowed to
// hold others up. Until the welcome is queued, frames wait in pending.
func (c *conn) deliver(b []byte) {
	c.mu.Lock()
	if !c.welcomed {
		if len(c.pending) >= c.h.cfg.Limits.SendQueue {
			c.mu.Unlock()
			c.kill(protocol.CloseSlowConsumer, "too slow to receive messages")
			return
		}
		c.pending = append(c.pending, b)
		c.mu.Unlock()
		return
	}
	c.queueLocked(b)
}

// enqueue queues a reply (or the welcome) for the writer.
func (c *conn) enqueue(b []byte) {
	c.mu.Lock()
	c.queueLocked(b)
}

// enqueuePair queues a and then b with one wake of the writer, so they
// usually leave in one write (an ack and the pusher's own update).
func (c *conn) enqueuePair(a, b []byte) {
	c.mu.Lock()
	if !c.welcomed {
		c.mu.Unlock()
		c.enqueue(a)
		c.deliver(b)
		return
	}
	select {
	case <-c.done:
		c.mu.Unlock()
		return
	default:
	}
	if len(c.queue)+1 >= c.h.cfg.Limits.SendQueue {
		c.mu.Unlock()
		c.kill(protocol.CloseSlowConsumer, "too slow to receive messages")
		return
	}
	c.queue = append(c.queue, a, b)
	c.wakeLocked()
}

// queueLocked appends b to the send queue and wakes the writer; it
// unlocks c.mu. The queue is a slice that grows only as far as it is
// used (a socket does not carry a SendQueue-sized buffer for its life).
func (c *conn) queueLocked(b []byte) {
	select {
	case <-c.done:
		c.mu.Unlock()
		return
	default:
	}
	if len(c.queue) >= c.h.cfg.Limits.SendQueue {
		c.mu.Unlock()
		c.kill(protocol.CloseSlowConsumer, "too slow to receive messages")
		return
	}
	c.queue = append(c.queue, b)
	c.wakeLocked()
}

// wakeLocked starts a writer goroutine unless one runs or the socket is
// closed; it unlocks c.mu. A writer exits only after finding nothing to
// write under the lock, so whatever was queued before this call is
// written: by the writer that runs, or by the one started here.
func (c *conn) wakeLocked() {
	start := !c.writing && !c.sockDone
	c.writing = c.writing || start
	c.mu.Unlock()
	if start {
		go c.flushOut()
	}
}

// take moves up to a batch of queued frames (batch.go) into into.
func (c *conn) take(into [][]byte) [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.takeLocked(into)
}

func (c *conn) takeLocked(into [][]byte) [][]byte {
	into = into[:0]
	size := 0
	n := 0
	for n < len(c.queue) && n < maxBatchFrames && (n == 0 || size < maxBatchBytes) {
		size += len(c.queue[n])
		n++
	}
	into = append(into, c.queue[:n]...)
	if n == len(c.queue) {
		clear(c.queue)
		c.queue = c.queue[:0]
		if cap(c.queue) > 64 {
			c.queue = nil // a burst is over: give its memory back
		}
	} else {
		clear(c.queue[:n])
		c.queue = c.queue[n:]
	}
	return into
}

// welcome queues the first frame, then whatever fan-out arrived while it
// was being built (the client drops what its snapshot already contains),
// all under the lock, so fan-out that arrives meanwhile (and sees
// welcomed) cannot overtake them.
func (c *conn) welcome(b []byte) {
	c.mu.Lock()
	full := len(c.queue)+1+len(c.pending) > c.h.cfg.Limits.SendQueue
	if !full {
		c.queue = append(c.queue, b)
		c.queue = append(c.queue, c.pending...)
	}
	c.pending, c.welcomed = nil, true
	if full {
		c.mu.Unlock()
		c.kill(protocol.CloseSlowConsumer, "too slow to receive messages")
		return
	}
	c.wakeLocked()
}

// kill asks the writer to close the socket with code. The first call wins.
// Every end of a socket goes through it: the writer that closes the socket
// is the last one (Serve waits for it).
func (c *conn) kill(code int, text string) {
	c.mu.Lock()
	select {
	case <-c.done:
		c.mu.Unlock()
		return
	default:
	}
	c.closeCode, c.closeText = code, text
	close(c.done)
	defer c.wakeLocked() // the writer closes the socket
	if code == protocol.CloseSlowConsumer && !c.finished {
		// The writer may be stuck in a write to this very socket: an expired
		// deadline on the network connection frees it now instead of after
		// WriteWait. (Close would not: fasthttp closes a hijacked socket only
		// after the handler returns. ws.SetWriteDeadline would not either: it
		// only stores the deadline for the next write, in a field the writer
		// reads without a lock.) A net.Conn is safe for concurrent use.
		if nc, ok := c.ws.(interface{ NetConn() net.Conn }); ok {
			_ = nc.NetConn().SetWriteDeadline(time.Now())
		}
	}
}

// drain is the graceful stop: the reader finishes the message in hand, sees
// the expired deadline and closes with 1001 after the queue is flushed.
func (c *conn) drain() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.draining = true
	if !c.finished {
		_ = c.ws.SetReadDeadline(time.Now())
	}
}

// extendReadSoon is extendRead at most once a second: moving a socket's
// deadline on every message cost a timer update per keystroke, and a
// second less of PongWait changes nothing.
func (c *conn) extendReadSoon() {
	now := time.Now()
	if now.Sub(c.extended) < time.Second {
		return
	}
	c.extended = now
	c.extendRead()
}

// extendRead pushes the read deadline PongWait ahead, unless the
// connection is draining: then the expired deadline must stay, or a busy
// client (whose frames are already buffered, or whose pongs arrive) would
// keep the socket open until Shutdown gives up.
func (c *conn) extendRead() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.draining && !c.finished {
		_ = c.ws.SetReadDeadline(time.Now().Add(c.h.cfg.PongWait))
	}
}

// finish marks the socket as no longer ours; it runs as the handler returns.
func (c *conn) finish() {
	c.mu.Lock()
	c.finished = true
	c.mu.Unlock()
}

// flushOut is the writer of the socket while there is something to write:
// data frames (several per write, batch.go), an owed ping or pong, and,
// once the socket is killed, what is still queued and the close frame.
// It runs on demand (wakeLocked): an idle socket holds no goroutine and no
// stack for it. At most one runs at a time.
func (c *conn) flushOut() {
	var batch [][]byte
	for {
		c.mu.Lock()
		select {
		case <-c.done:
			c.mu.Unlock()
			c.closeOut(true)
			return
		default:
		}
		ping, pong := c.pingOwed, c.pongOwed
		c.pingOwed, c.pongOwed = false, nil
		batch = c.takeLocked(batch)
		if !ping && pong == nil && len(batch) == 0 {
			c.writing = false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		ok := true
		if pong != nil {
			ok = c.ws.WriteControl(websocket.PongMessage, []byte(*pong), time.Now().Add(c.h.cfg.WriteWait)) == nil
		}
		if ok && ping {
			ok = c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.h.cfg.WriteWait)) == nil
			c.pinger.Reset(c.h.cfg.PingInterval)
		}
		if ok && len(batch) > 0 {
			ok = c.writeBatch(batch)
			clear(batch)
		}
		if !ok {
			c.kill(0, "")
			c.closeOut(false) // a write failed: nothing more gets through
			return
		}
	}
}

// closeOut ends the socket: with flush, it first writes what was queued
// (acks of work already stored) unless the queue itself is the problem;
// then it sends the close frame and lets Serve return.
func (c *conn) closeOut(flush bool) {
	c.pinger.Stop()
	c.mu.Lock()
	code, text := c.closeCode, c.closeText // 4008 when the queue overflowed
	c.mu.Unlock()
	if flush && code != protocol.CloseSlowConsumer {
		c.flush()
	}
	c.closeSocket(code, text)
	c.mu.Lock()
	c.sockDone, c.writing = true, false
	c.mu.Unlock()
	close(c.closed)
}

// pingDue owes the client a ping; the writer sends it and sets the timer
// again, so a socket that cannot be written to is not owed more.
func (c *conn) pingDue() {
	c.mu.Lock()
	c.pingOwed = true
	c.wakeLocked()
}

func (c *conn) flush() {
	var batch [][]byte
	for {
		batch = c.take(batch)
		if len(batch) == 0 || !c.writeBatch(batch) {
			return
		}
	}
}

// closeSocket sends the close frame and ends the reader: it gets a moment
// to receive the client's close reply, then its deadline expires. (Close
// alone would not wake it: fasthttp closes a hijacked socket only after the
// handler returns.)
func (c *conn) closeSocket(code int, text string) {
	if code != 0 {
		msg := websocket.FormatCloseMessage(code, text)
		_ = c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
	}
	_ = c.ws.SetReadDeadline(time.Now().Add(time.Second))
	_ = c.ws.Close()
}

// Serve runs one participant's connection until it ends. It must be called
// from the WebSocket handler and returns only when no goroutine uses ws any
// more (contrib/websocket reuses the conn after the handler returns).
func (h *Hub) Serve(ws WS, p Participant) {
	id := p.SocketID
	if id == "" {
		id = newConnID()
	}
	c := &conn{
		h: h, ws: ws, id: id, p: p,
		done:   make(chan struct{}),
		closed: make(chan struct{}),
	}
	c.pinger = time.AfterFunc(h.cfg.PingInterval, c.pingDue)
	c.presence.cur = protocol.Member{ID: c.id, Role: p.Role, Name: p.Name}
	if !h.register(c) {
		c.pinger.Stop()
		c.mu.Lock()
		c.sockDone = true // no writer ever starts: this goroutine closes it
		c.mu.Unlock()
		c.closeSocket(closeGoingAway, "server shutting down")
		h.releaseSocket(p) // admitted before the drain began: stop counting it now
		return
	}
	defer h.unregister(c)
	h.cfg.Observer.SocketOpened()
	defer c.observeClosed()
	defer h.releaseSocket(p)
	defer c.finish()

	ws.SetReadLimit(int64(h.cfg.Limits.MaxMessageBytes))
	c.extendRead()
	ws.SetPongHandler(func(string) error {
		c.extendRead()
		return nil
	})
	c.servePings()
	defer func() {
		// The writer that closes the socket is the last user of ws. A
		// panic unwinding here ends the socket too.
		c.kill(0, "")
		<-c.closed
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	rh, err := h.join(ctx, p.Room, p.Template)
	cancel()
	if err != nil {
		h.log.Warn("joining room failed", "room", p.Room, "err", err)
		c.kill(1011, "storage unavailable")
		return
	}
	c.rh = rh
	defer h.leave(rh)
	rh.add(c)
	defer rh.remove(c)

	if code, err := c.sendWelcome(); err != nil {
		h.log.Warn("welcome failed", "room", p.Room, "err", err)
		c.kill(code, "could not load the room")
		return
	}
	defer c.leavePresence()

	c.bucket = h.buckets.acquire(p.Room+"\x00"+seatOf(p), time.Now(), h.cfg.Limits.RatePerSecond, h.cfg.Limits.RateBurst)
	defer h.buckets.release(c.bucket)
	for {
		buf, data, err := readMessage(ws)
		if err != nil {
			c.readFailed(err)
			return
		}
		c.extendReadSoon()
		if c.allow() {
			c.handle(data) // keeps nothing of data (protocol.Decode copies)
		}
		releaseReadBuf(buf)
	}
}

// readBufs recycles the buffers messages are read into: io.ReadAll (what
// ReadMessage uses) allocated a new one per message, a sixth of the
// bytes a node allocated under load.
var readBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// readMessage reads the next message, into a pooled buffer when the
// socket can hand out a reader (buf is nil otherwise).
func readMessage(ws WS) (buf *bytes.Buffer, data []byte, err error) {
	nr, ok := ws.(interface {
		NextReader() (int, io.Reader, error)
	})
	if !ok {
		_, data, err = ws.ReadMessage()
		return nil, data, err
	}
	_, r, err := nr.NextReader()
	if err != nil {
		return nil, nil, err
	}
	buf = readBufs.Get().(*bytes.Buffer)
	buf.Reset()
	if _, err := buf.ReadFrom(r); err != nil {
		releaseReadBuf(buf)
		return nil, nil, err
	}
	return buf, buf.Bytes(), nil
}

func releaseReadBuf(buf *bytes.Buffer) {
	if buf != nil && buf.Cap() <= 64<<10 {
		readBufs.Put(buf)
	}
}

// observeClosed reports the socket's end with the code it was closed
// with (0: it ended without a close code of ours, e.g. the peer went away).
func (c *conn) observeClosed() {
	c.mu.Lock()
	code := c.closeCode
	c.mu.Unlock()
	c.h.cfg.Observer.SocketClosed(code)
}

func (c *conn) readFailed(err error) {
	c.h.mu.Lock()
	closing := c.h.closing
	c.h.mu.Unlock()
	switch {
	case closing:
		c.kill(closeGoingAway, "server shutting down")
	case errors.Is(err, websocket.ErrReadLimit):
		c.kill(protocol.CloseTooBig, "message too big")
	default:
		c.kill(0, "")
	}
}

// allow draws one message from the seat's flood budget. A dropped message
// is answered (at most once a second) with rate_limited; a long flood
// closes the socket.
func (c *conn) allow() bool {
	now := time.Now()
	if c.bucket.take(now, c.h.cfg.Limits.RatePerSecond, c.h.cfg.Limits.RateBurst) {
		c.dropped = 0
		return true
	}
	c.dropped++
	c.h.cfg.Observer.Refused("seat_rate")
	if c.dropped >= c.h.cfg.Limits.FloodClose {
		c.kill(protocol.CloseFlood, "message flood")
		return false
	}
	if now.Sub(c.lastLimited) >= time.Second {
		c.lastLimited = now
		c.enqueue(protocol.ErrorFrame("", protocol.Errorf(protocol.CodeRateLimited, "too many messages: this one was dropped; slow down")))
	}
	return false
}

package realtime

import (
	"encoding/binary"
	"net"
	"sync"
	"time"

	"github.com/fasthttp/websocket"

	"repairroom/internal/protocol"
)

// Batched writes. The writer drains whatever is queued for a socket (up to
// maxBatchFrames frames or maxBatchBytes) and sends it as WebSocket text
// frames built here, one after another in one buffer, with one write(2):
// under load a socket's queue holds several frames, and one system call
// per frame was a fifth of a node's CPU. Every frame is still its own
// WebSocket message, so clients see no difference.
//
// The frames are written to the network connection directly, past the
// WebSocket library's writer, which is safe only while nothing else writes
// to the socket at the same time: every write of a connection (data,
// pings, pongs, the close frame) happens on its writer goroutine, of which
// at most one runs (conn.flushOut); the pongs a client's pings ask for are
// handed to it (see servePings).

const (
	maxBatchFrames = 64
	maxBatchBytes  = 64 << 10
)

// batchBufs recycles the write buffers: a socket holds one only while it
// writes, not for its lifetime.
var batchBufs = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// appendTextFrame appends p as one unmasked, final text frame (RFC 6455
// 5.2; a server never masks).
func appendTextFrame(buf, p []byte) []byte {
	const finText = 0x80 | websocket.TextMessage
	n := len(p)
	switch {
	case n < 126:
		buf = append(buf, finText, byte(n))
	case n <= 0xFFFF:
		buf = append(buf, finText, 126)
		buf = binary.BigEndian.AppendUint16(buf, uint16(n))
	default:
		buf = append(buf, finText, 127)
		buf = binary.BigEndian.AppendUint64(buf, uint64(n))
	}
	return append(buf, p...)
}

// writeBatch sends frames with one write when the socket exposes its
// network connection, else one message at a time.
func (c *conn) writeBatch(frames [][]byte) bool {
	c.mu.Lock()
	slow := c.closeCode == protocol.CloseSlowConsumer
	c.mu.Unlock()
	if slow {
		return false // a write now would only wait for WriteWait
	}
	nc, ok := c.ws.(interface{ NetConn() net.Conn })
	if !ok || nc.NetConn() == nil {
		for _, b := range frames {
			_ = c.ws.SetWriteDeadline(time.Now().Add(c.h.cfg.WriteWait))
			if c.ws.WriteMessage(websocket.TextMessage, b) != nil {
				return false
			}
		}
		return true
	}
	bp := batchBufs.Get().(*[]byte)
	buf := (*bp)[:0]
	for _, b := range frames {
		buf = appendTextFrame(buf, b)
	}
	conn := nc.NetConn()
	_ = conn.SetWriteDeadline(time.Now().Add(c.h.cfg.WriteWait))
	_, err := conn.Write(buf)
	if cap(buf) <= 256<<10 {
		*bp = buf[:0]
		batchBufs.Put(bp)
	}
	return err == nil
}

// servePings makes the writer answer the client's pings: the library's
// own handler would write the pong from the reader goroutine, at the same
// time as a batch.
func (c *conn) servePings() {
	ph, ok := c.ws.(interface{ SetPingHandler(func(string) error) })
	if !ok {
		return
	}
	ph.SetPingHandler(func(data string) error {
		c.extendRead()
		c.mu.Lock()
		if c.pongOwed == nil { // one pong owed is enough
			c.pongOwed = &data
		}
		c.wakeLocked()
		return nil
	})
}

package realtime

import "time"

// Observer is told what the realtime layer does, for metrics. Every method
// must be cheap and safe for concurrent use: it is called on the push path
// and from every connection. NopObserver is the zero choice.
type Observer interface {
	// PushDone: one push finished with outcome (ok, behind, rebased,
	// reset, refused, error), d after it was read from the socket.
	PushDone(outcome string, d time.Duration)
	// SocketOpened / SocketClosed: a socket joined or left a room on this
	// node; code is the WebSocket close code it was closed with.
	SocketOpened()
	SocketClosed(code int)
	// Refused: a limit refused something (name of the limit, e.g.
	// "sockets_per_seat", "seat_rate", "room_bytes").
	Refused(limit string)
	// Subscriptions: how many Redis pub/sub connections and channels the
	// node holds now.
	Subscriptions(conns, channels int)
}

// NopObserver observes nothing.
type NopObserver struct{}

func (NopObserver) PushDone(string, time.Duration) {}
func (NopObserver) SocketOpened()                  {}
func (NopObserver) SocketClosed(int)               {}
func (NopObserver) Refused(string)                 {}
func (NopObserver) Subscriptions(int, int)         {}

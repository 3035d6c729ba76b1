// Package limits is the one home of every limit the server enforces. The
// struct is filled once in server/ (defaults, then the environment), passed
// down to every package that enforces a limit, and its client-visible part
// is sent to browsers and Go clients in the welcome, so no client copies a
// number. A zero field means "use the default" (see Default), never "no
// limit": every limit exists for a reason a refusal can name.
package limits

import (
	"fmt"
	"time"
)

// Limits are the server's limits. Each comment says what is refused when it
// is passed, and with which code (docs/protocol.md, docs/operations.md).
type Limits struct {
	// One WebSocket message, in bytes; larger closes the socket with 1009.
	MaxMessageBytes int
	// Frames queued for one socket before it counts as a slow consumer
	// (closed 4008, never blocking the room).
	SendQueue int

	// Messages a seat may send per second, sustained, and as a burst. The
	// budget belongs to the seat, not the socket, so reconnecting does not
	// refill it. Over it: error rate_limited; FloodClose refusals in a row
	// close 4029.
	RatePerSecond float64
	RateBurst     float64
	FloodClose    int

	// Presence: at most one broadcast per socket per PresenceEvery, and at
	// most RoomPresencePerSecond per room on a node (the rest are coalesced).
	PresenceEvery         time.Duration
	RoomPresencePerSecond int
	// Member-list changes of a room are coalesced and sent as diffs at most
	// once per MembersEvery.
	MembersEvery time.Duration

	// Text. MaxFieldUnits: UTF-16 units one field may hold (too_large).
	// MaxInsertUnits: units inserted by one push, counted as inserted (a
	// replacement counts its whole insert, not the net growth) (too_large).
	// SeatInsertPerMinute: units one seat may insert per minute, across all
	// fields and sockets (rate_limited).
	MaxFieldUnits       int
	MaxInsertUnits      int
	SeatInsertPerMinute int

	// The log of one field keeps at most LogEntries updates and LogBytes
	// bytes; what falls out is compacted into the field's snapshot history.
	// A text snapshot is written every SnapshotEvery versions or
	// SnapshotBytes bytes of log, whichever comes first.
	LogEntries    int
	LogBytes      int
	SnapshotEvery int
	SnapshotBytes int
	// RoomBytes is the ceiling of what one room stores in Redis (texts,
	// logs, snapshots, events); a write past it is refused with too_large.
	RoomBytes int64

	// Sockets, refused before the upgrade with HTTP 429 and a JSON reason:
	// per seat (one person's devices), per room, and per client address
	// (the address a trusted proxy reports).
	SocketsPerSeat int
	SocketsPerRoom int
	SocketsPerAddr int

	// Rooms created per client address per minute, shared by every node
	// through Redis (HTTP 429).
	RoomsPerAddrPerMinute int
	// RoomTTL: how long a room is kept after its last write (and how long
	// its links live). MaxRoomTTL: the longest a moderator may extend it to.
	RoomTTL    time.Duration
	MaxRoomTTL time.Duration

	// BreakReturnAfter: how long a self-guided break must have lasted before
	// both partners saying "ready to come back" may end it (on_break before).
	// Twenty minutes is what METHODS.md asks for; a shorter value exists for
	// tests and demonstrations, not for real couples.
	BreakReturnAfter time.Duration
}

// Default returns the limits the server runs with unless told otherwise.
func Default() Limits {
	return Limits{
		MaxMessageBytes:       256 << 10,
		SendQueue:             512,
		RatePerSecond:         40,
		RateBurst:             200,
		FloodClose:            1000,
		PresenceEvery:         100 * time.Millisecond,
		RoomPresencePerSecond: 60,
		MembersEvery:          250 * time.Millisecond,
		MaxFieldUnits:         65536,
		MaxInsertUnits:        32768,
		SeatInsertPerMinute:   200000,
		LogEntries:            2000,
		LogBytes:              1 << 20,
		SnapshotEvery:         200,
		SnapshotBytes:         64 << 10,
		RoomBytes:             32 << 20,
		SocketsPerSeat:        4,
		SocketsPerRoom:        16,
		SocketsPerAddr:        64,
		RoomsPerAddrPerMinute: 10,
		RoomTTL:               30 * 24 * time.Hour,
		MaxRoomTTL:            90 * 24 * time.Hour,
		BreakReturnAfter:      20 * time.Minute,
	}
}

// WithDefaults returns l with every zero field set to its default.
func (l Limits) WithDefaults() Limits {
	d := Default()
	setI := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	setD := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	setF := func(v *float64, def float64) {
		if *v <= 0 {
			*v = def
		}
	}
	setI(&l.MaxMessageBytes, d.MaxMessageBytes)
	setI(&l.SendQueue, d.SendQueue)
	setF(&l.RatePerSecond, d.RatePerSecond)
	setF(&l.RateBurst, d.RateBurst)
	setI(&l.FloodClose, d.FloodClose)
	setD(&l.PresenceEvery, d.PresenceEvery)
	setI(&l.RoomPresencePerSecond, d.RoomPresencePerSecond)
	setD(&l.MembersEvery, d.MembersEvery)
	setI(&l.MaxFieldUnits, d.MaxFieldUnits)
	setI(&l.MaxInsertUnits, d.MaxInsertUnits)
	setI(&l.SeatInsertPerMinute, d.SeatInsertPerMinute)
	setI(&l.LogEntries, d.LogEntries)
	setI(&l.LogBytes, d.LogBytes)
	setI(&l.SnapshotEvery, d.SnapshotEvery)
	setI(&l.SnapshotBytes, d.SnapshotBytes)
	if l.RoomBytes <= 0 {
		l.RoomBytes = d.RoomBytes
	}
	setI(&l.SocketsPerSeat, d.SocketsPerSeat)
	setI(&l.SocketsPerRoom, d.SocketsPerRoom)
	setI(&l.SocketsPerAddr, d.SocketsPerAddr)
	setI(&l.RoomsPerAddrPerMinute, d.RoomsPerAddrPerMinute)
	setD(&l.RoomTTL, d.RoomTTL)
	setD(&l.MaxRoomTTL, d.MaxRoomTTL)
	setD(&l.BreakReturnAfter, d.BreakReturnAfter)
	return l
}

// Validate reports limits that contradict each other.
func (l Limits) Validate() error {
	l = l.WithDefaults()
	switch {
	case l.MaxInsertUnits > l.MaxFieldUnits:
		return fmt.Errorf("limits: MaxInsertUnits (%d) exceeds MaxFieldUnits (%d)", l.MaxInsertUnits, l.MaxFieldUnits)
	case l.RateBurst < 1:
		return fmt.Errorf("limits: RateBurst must allow at least one message")
	case l.SocketsPerSeat > l.SocketsPerRoom:
		return fmt.Errorf("limits: SocketsPerSeat (%d) exceeds SocketsPerRoom (%d)", l.SocketsPerSeat, l.SocketsPerRoom)
	case l.RoomTTL > l.MaxRoomTTL:
		return fmt.Errorf("limits: RoomTTL (%s) exceeds MaxRoomTTL (%s)", l.RoomTTL, l.MaxRoomTTL)
	case int64(l.MaxFieldUnits)*2 > l.RoomBytes:
		return fmt.Errorf("limits: RoomBytes (%d) cannot hold one full field (%d units)", l.RoomBytes, l.MaxFieldUnits)
	}
	return nil
}

// Client is the part of the limits a client needs to stay within them; it
// travels in the welcome frame as "limits".
type Client struct {
	MaxMessageBytes     int `json:"maxMessageBytes"`
	MaxFieldUnits       int `json:"maxFieldUnits"`
	MaxInsertUnits      int `json:"maxInsertUnits"`
	SeatInsertPerMinute int `json:"seatInsertPerMinute"`
	RatePerSecond       int `json:"ratePerSecond"`
	PresenceEveryMs     int `json:"presenceEveryMs"`
	// BreakReturnAfterMs: when a self-guided break may be ended by both
	// partners being ready (the client shows the button from then on).
	BreakReturnAfterMs int64 `json:"breakReturnAfterMs"`
}

// ForClient returns what clients are told.
func (l Limits) ForClient() Client {
	l = l.WithDefaults()
	return Client{
		MaxMessageBytes:     l.MaxMessageBytes,
		MaxFieldUnits:       l.MaxFieldUnits,
		MaxInsertUnits:      l.MaxInsertUnits,
		SeatInsertPerMinute: l.SeatInsertPerMinute,
		RatePerSecond:       int(l.RatePerSecond),
		PresenceEveryMs:     int(l.PresenceEvery / time.Millisecond),
		BreakReturnAfterMs:  int64(l.BreakReturnAfter / time.Millisecond),
	}
}

package store

import (
	"context"
	"testing"
	"time"

	"repairroom/internal/redistest"
)

func TestAdmitSocketCountsPerSeatRoomAndAddress(t *testing.T) {
	s := New(redistest.Client(t), DefaultOptions())
	ctx := context.Background()
	now := time.Now()
	steps := []struct {
		room, seat, addr, id string
		want                 SocketLimit
	}{
		{"r1", "a", "1.1.1.1", "s1", ""},
		{"r1", "a", "1.1.1.1", "s2", SocketLimitSeat}, // 1 per seat
		{"r1", "b", "1.1.1.1", "s3", ""},
		{"r1", "c", "2.2.2.2", "s4", SocketLimitRoom}, // 2 per room
		{"r2", "a", "1.1.1.1", "s5", ""},
		{"r3", "a", "1.1.1.1", "s6", SocketLimitAddr}, // 3 per address
		{"r3", "a", "2.2.2.2", "s7", ""},
	}
	for i, st := range steps {
		got, err := s.AdmitSocket(ctx, st.room, st.seat, st.addr, st.id, 1, 2, 3, now)
		if err != nil || got != st.want {
			t.Fatalf("step %d: %q %v; want %q", i, got, err, st.want)
		}
	}
	if n := s.rdb.HLen(ctx, roomSocketsKey("r3")).Val(); n != 1 {
		t.Fatalf("a refused address left %d entries in the room", n)
	}
	// Released and expired sockets stop counting.
	if err := s.ReleaseSocket(ctx, "r1", "1.1.1.1", "s1"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.AdmitSocket(ctx, "r1", "a", "3.3.3.3", "s8", 1, 2, 3, now); got != "" {
		t.Fatalf("after a release: %q", got)
	}
	if got, _ := s.AdmitSocket(ctx, "r1", "a", "3.3.3.3", "s9", 1, 2, 3, now.Add(SocketTTL+time.Second)); got != "" {
		t.Fatalf("after expiry: %q", got)
	}
}

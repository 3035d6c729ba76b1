package limits

import (
	"strings"
	"testing"
	"time"
)

func TestZeroTakesDefaults(t *testing.T) {
	if got, want := (Limits{}).WithDefaults(), Default(); got != want {
		t.Fatalf("zero limits with defaults = %+v, want %+v", got, want)
	}
	if err := Default().Validate(); err != nil {
		t.Fatalf("default limits invalid: %v", err)
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name string
		mod  func(*Limits)
		want string
	}{
		{"insert over field", func(l *Limits) { l.MaxInsertUnits = l.MaxFieldUnits + 1 }, "MaxInsertUnits"},
		{"seat over room", func(l *Limits) { l.SocketsPerSeat = 20; l.SocketsPerRoom = 10 }, "SocketsPerSeat"},
		{"ttl over max", func(l *Limits) { l.RoomTTL = 100 * 24 * time.Hour }, "RoomTTL"},
		{"room bytes too small", func(l *Limits) { l.RoomBytes = 1000 }, "RoomBytes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := Default()
			c.mod(&l)
			err := l.Validate()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Validate() = %v, want an error naming %s", err, c.want)
			}
		})
	}
}

func TestForClient(t *testing.T) {
	c := Default().ForClient()
	if c.MaxFieldUnits != 65536 || c.MaxInsertUnits != 32768 || c.PresenceEveryMs != 100 {
		t.Fatalf("client limits %+v", c)
	}
}

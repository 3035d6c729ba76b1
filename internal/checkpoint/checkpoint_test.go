package checkpoint

import (
	"errors"
	"strings"
	"testing"
)

var secret = []byte("checkpoint-test-secret-0123456789abcdef")

func signer(t testing.TB) *Signer {
	t.Helper()
	s, err := New(secret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNewRefusesShortSecret(t *testing.T) {
	if _, err := New([]byte("short")); err == nil {
		t.Fatal("a 5-byte secret was accepted")
	}
}

func TestFieldRoundTripAndEveryAlterationRefused(t *testing.T) {
	s := signer(t)
	base := Field{Room: "r1", Field: "wins", Epoch: "e1", Version: 7, Text: HashText("hello")}
	sig := s.SignField(base)
	if err := s.VerifyField(base, sig); err != nil {
		t.Fatalf("own signature refused: %v", err)
	}
	other, _ := New([]byte("another-secret-another-secret-0123456789"))
	tests := []struct {
		name string
		f    Field
		sig  string
		s    *Signer
		want error
	}{
		{"other room", Field{"r2", "wins", "e1", 7, base.Text}, sig, s, ErrBadSignature},
		{"other field", Field{"r1", "win", "e1", 7, base.Text}, sig, s, ErrBadSignature},
		{"other epoch", Field{"r1", "wins", "e2", 7, base.Text}, sig, s, ErrBadSignature},
		{"higher version", Field{"r1", "wins", "e1", 8, base.Text}, sig, s, ErrBadSignature},
		{"other text", Field{"r1", "wins", "e1", 7, HashText("hellO")}, sig, s, ErrBadSignature},
		{"boundary moved", Field{"r1w", "ins", "e1", 7, base.Text}, sig, s, ErrBadSignature},
		{"other secret", base, sig, other, ErrBadSignature},
		{"empty sig", base, "", s, ErrMalformed},
		{"truncated sig", base, sig[:len(sig)-1], s, ErrMalformed},
		{"not base64", base, strings.Repeat("*", len(sig)), s, ErrMalformed},
		{"flipped char", base, flip(sig), s, ErrBadSignature},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.s.VerifyField(tc.f, tc.sig); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestRoomRoundTripAndAlterations(t *testing.T) {
	s := signer(t)
	base := Room{Room: "r1", Role: "moderator", Rev: 3, State: HashOf([]byte(`{"stage":"a"}`))}
	sig := s.SignRoom(base)
	if err := s.VerifyRoom(base, sig); err != nil {
		t.Fatalf("own signature refused: %v", err)
	}
	alter := []func(r *Room){
		func(r *Room) { r.Role = "partner_a" },
		func(r *Room) { r.Rev = 4 },
		func(r *Room) { r.State = HashOf([]byte(`{"stage":"b"}`)) },
		func(r *Room) { r.Room = "r2" },
	}
	for i, a := range alter {
		r := base
		a(&r)
		if err := s.VerifyRoom(r, sig); !errors.Is(err, ErrBadSignature) {
			t.Errorf("alteration %d: got %v, want a bad signature", i, err)
		}
	}
	// A field signature is never a room signature.
	f := Field{Room: "r1", Field: "moderator", Epoch: "", Version: 3}
	if err := s.VerifyRoom(base, s.SignField(f)); err == nil {
		t.Error("a field signature verified as a room signature")
	}
}

func flip(s string) string {
	b := []byte(s)
	if b[0] == 'A' {
		b[0] = 'B'
	} else {
		b[0] = 'A'
	}
	return string(b)
}

// FuzzVerify feeds arbitrary presented checkpoints to the verifier: it
// must never panic, and must accept only the one genuine signature.
func FuzzVerify(f *testing.F) {
	s := signer(f)
	good := Field{Room: "r", Field: "wins", Epoch: "e", Version: 2, Text: HashText("ab")}
	f.Add("r", "wins", "e", int64(2), "ab", s.SignField(good))
	f.Add("r", "wins", "e", int64(3), "ab", s.SignField(good))
	f.Add("", "", "", int64(-1), "", "")
	f.Add("r", "wins", "e", int64(2), "ab", strings.Repeat("A", 43))
	f.Add("r", "wins", "e", int64(2), "ab", "====")
	f.Fuzz(func(t *testing.T, room, field, epoch string, version int64, text, sig string) {
		c := Field{Room: room, Field: field, Epoch: epoch, Version: version, Text: HashText(text)}
		err := s.VerifyField(c, sig)
		genuine := c == good && sig == s.SignField(good)
		if err == nil && c != good && sig != s.SignField(c) {
			t.Fatalf("accepted a signature that is not the one for %+v", c)
		}
		if genuine && err != nil {
			t.Fatalf("refused the genuine checkpoint: %v", err)
		}
		_, _ = DecodeSig(sig)
	})
}

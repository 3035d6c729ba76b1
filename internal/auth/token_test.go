package auth

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestVerify(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	s, err := NewSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := NewSigner([]byte("fedcba9876543210fedcba9876543210"))
	now := time.Unix(1_800_000_000, 0)
	good := Claims{Room: "r1", Role: "partner_a", Seat: "partner_a", Expires: now.Add(time.Hour).Unix(), Gen: 3}
	tok := s.Sign(good)
	payload, sig, _ := strings.Cut(tok, ".")
	forgedPayload := b64.EncodeToString([]byte(`{"r":"r1","o":"moderator","s":"moderator","e":1900000000,"g":3}`))

	cases := []struct {
		name string
		tok  string
		want error
	}{
		{"valid", tok, nil},
		{"expired", s.Sign(Claims{Room: "r1", Role: "partner_a", Expires: now.Unix(), Gen: 3}), ErrExpired},
		{"other key", other.Sign(good), ErrForged},
		{"role swapped, old signature", forgedPayload + "." + sig, ErrForged},
		{"signature truncated", payload + "." + sig[:10], ErrForged},
		{"no dot", payload, ErrMalformed},
		{"empty", "", ErrMalformed},
		{"bad base64 signature", payload + ".!!!", ErrMalformed},
		{"too long", strings.Repeat("a", MaxTokenLen+1), ErrMalformed},
		{"signed garbage", garbage(s, "not json"), ErrMalformed},
		{"signed without room", garbage(s, `{"o":"partner_a","e":1900000000}`), ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := s.Verify(tc.tok, now)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify: got %v, want %v", err, tc.want)
			}
			if tc.want == nil && c != good {
				t.Fatalf("claims %+v, want %+v", c, good)
			}
		})
	}
}

func garbage(s *Signer, payload string) string {
	p := b64.EncodeToString([]byte(payload))
	return p + "." + b64.EncodeToString(s.mac(p))
}

func TestCheckGen(t *testing.T) {
	c := Claims{Gen: 2}
	if err := CheckGen(c, 2); err != nil {
		t.Fatalf("current generation refused: %v", err)
	}
	if err := CheckGen(c, 3); !errors.Is(err, ErrRevoked) {
		t.Fatalf("old generation: got %v, want ErrRevoked", err)
	}
}

func TestNewSignerRefusesShortKeys(t *testing.T) {
	if _, err := NewSigner([]byte("short")); err == nil {
		t.Fatal("a 5-byte key was accepted")
	}
}

func FuzzVerify(f *testing.F) {
	s, _ := NewSigner([]byte("0123456789abcdef0123456789abcdef"))
	f.Add(s.Sign(Claims{Room: "r", Role: "partner_a", Expires: 1 << 40}))
	f.Add("a.b")
	f.Add("")
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := s.Verify(tok, time.Unix(0, 0))
		if err == nil && (c.Room == "" || c.Role == "") {
			t.Fatalf("accepted claims without room or role: %+v", c)
		}
	})
}

package httpapi

import (
	"net/http/httptest"
	"testing"

	"github.com/gofiber/fiber/v2"
)

func TestCanonOrigin(t *testing.T) {
	cases := []struct {
		in, want string
		ok       bool
	}{
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080", true},
		{"HTTPS://Rooms.Example.org", "https://rooms.example.org:443", true},
		{"http://rooms.example.org/", "http://rooms.example.org:80", true},
		{"http://[::1]:8080", "http://[::1]:8080", true},
		{"http://user:pw@rooms.example.org", "", false},
		{"ws://rooms.example.org", "", false},
		{"http://rooms.example.org/path", "", false},
		{"http://rooms.example.org?x=1", "", false},
		{"null", "", false},
		{"", "", false},
		{"http://", "", false},
	}
	for _, c := range cases {
		got, ok := canonOrigin(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("canonOrigin(%q) = %q %t, want %q %t", c.in, got, ok, c.want, c.ok)
		}
	}
}

// X-Forwarded-Host and -Proto count only from a trusted proxy. app.Test's
// connections come from 0.0.0.0.
func TestSelfOriginTrustsOnlyConfiguredProxies(t *testing.T) {
	cases := []struct {
		name    string
		trusted []string
		want    string
	}{
		{"no proxy configured", nil, "http://node.internal:8080"},
		{"peer is the proxy", []string{"0.0.0.0"}, "https://rooms.example.org"},
		{"peer in a trusted prefix", []string{"0.0.0.0/8"}, "https://rooms.example.org"},
		{"peer is not the proxy", []string{"10.0.0.1"}, "http://node.internal:8080"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := &api{Deps{TrustedProxies: c.trusted}}
			app := fiber.New(fiber.Config{
				EnableTrustedProxyCheck: len(c.trusted) > 0,
				TrustedProxies:          c.trusted,
				ProxyHeader:             proxyHeader(c.trusted),
			})
			app.Get("/", func(fc *fiber.Ctx) error { return fc.SendString(a.selfOrigin(fc)) })
			req := httptest.NewRequest("GET", "http://node.internal:8080/", nil)
			req.Header.Set("X-Forwarded-Host", "rooms.example.org, other.example")
			req.Header.Set("X-Forwarded-Proto", "https")
			resp, err := app.Test(req)
			if err != nil {
				t.Fatal(err)
			}
			b := make([]byte, 100)
			n, _ := resp.Body.Read(b)
			if got := string(b[:n]); got != c.want {
				t.Errorf("selfOrigin = %q, want %q", got, c.want)
			}
		})
	}
}

// canonOrigin reads the Origin header of anyone on the internet: it must
// never panic, and what it accepts is a plain origin that canonicalises to
// itself.
func FuzzCanonOrigin(f *testing.F) {
	for _, s := range []string{"http://127.0.0.1:8080", "https://a.example", "http://[::1]:1", "null", "http://u@h", "ht!tp://x", "http://h:99999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := canonOrigin(s)
		if !ok {
			return
		}
		again, ok2 := canonOrigin(got)
		if !ok2 || again != got {
			t.Fatalf("canonOrigin(%q) = %q, which canonicalises to %q %t", s, got, again, ok2)
		}
	})
}

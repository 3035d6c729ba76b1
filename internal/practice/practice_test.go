package practice

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"

	"repairroom/internal/redistest"
)

func TestMain(m *testing.M) { redistest.Main(m) }

func newPractice(t *testing.T, s *Store) (string, string) {
	t.Helper()
	id := NewID(16)
	code := NewRecoveryCode()
	p := &Practice{ID: id, Name: "Dr Test", Handle: []byte(id), Created: time.Now()}
	if err := s.Create(t.Context(), p, webauthn.Credential{ID: []byte("c-" + id)}, code); err != nil {
		t.Fatal(err)
	}
	return id, code
}

func TestValidID(t *testing.T) {
	cases := []struct {
		id string
		ok bool
	}{
		{NewID(16), true},
		{"", false},
		{"ABC", false},
		{"abc}", false},
		{"a:b", false},
		{strings.Repeat("a", 65), false},
		{"pr:{x}", false},
	}
	for _, tc := range cases {
		if got := ValidID(tc.id); got != tc.ok {
			t.Errorf("ValidID(%q) = %v, want %v", tc.id, got, tc.ok)
		}
	}
}

func TestNormalizeCode(t *testing.T) {
	cases := []struct{ in, want string }{
		{"ABCD-EFGH-2345-67AB-CDEF", "ABCDEFGH234567ABCDEF"},
		{"abcd efgh 2345 67ab cdef", "ABCDEFGH234567ABCDEF"},
		{"  a-b-c  ", "ABC"},
		{"ÄBC0189", "BC"}, // not of the alphabet: dropped
	}
	for _, tc := range cases {
		if got := normalizeCode(tc.in); got != tc.want {
			t.Errorf("normalizeCode(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestLoginRenewedWhileUsed(t *testing.T) {
	rdb := redistest.Client(t)
	s := New(rdb, Options{LoginTTL: time.Hour})
	ctx := t.Context()
	id, _ := newPractice(t, s)
	cookie, err := s.NewLogin(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	_, secret, _ := strings.Cut(cookie, ".")
	key := keys{id}.login(hashHex(secret))
	rdb.PExpire(ctx, key, time.Minute) // as if it had been idle for 59 minutes
	if p, err := s.CheckLogin(ctx, cookie); err != nil || p != id {
		t.Fatalf("CheckLogin: %q %v", p, err)
	}
	if ttl := rdb.PTTL(ctx, key).Val(); ttl <= time.Minute {
		t.Fatalf("a used session keeps its old TTL %v; it must be renewed to LoginTTL", ttl)
	}
	// A peek (the page polling by itself) does not renew.
	rdb.PExpire(ctx, key, time.Minute)
	if p, err := s.PeekLogin(ctx, cookie); err != nil || p != id {
		t.Fatalf("PeekLogin: %q %v", p, err)
	}
	if ttl := rdb.PTTL(ctx, key).Val(); ttl > time.Minute {
		t.Fatalf("a peek renewed the session to %v", ttl)
	}
	if _, err := s.PeekLogin(ctx, id+"."+NewID(32)); err != ErrNotFound {
		t.Fatalf("PeekLogin of a forged cookie: %v", err)
	}
}

// Two racing uses of one recovery code: exactly one gets in.
func TestRecoveryCodeRace(t *testing.T) {
	s := New(redistest.Client(t), Options{})
	id, code := newPractice(t, s)
	var wg sync.WaitGroup
	results := make(chan string, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if p, err := s.UseRecoveryCode(t.Context(), code); err == nil {
				results <- p
			}
		}()
	}
	wg.Wait()
	close(results)
	var got []string
	for p := range results {
		got = append(got, p)
	}
	if len(got) != 1 || got[0] != id {
		t.Fatalf("uses that got in: %v, want exactly one for %s", got, id)
	}
}

func TestDeleteLeavesNoKey(t *testing.T) {
	rdb := redistest.Client(t)
	s := New(rdb, Options{})
	ctx := t.Context()
	id, _ := newPractice(t, s)
	other, _ := newPractice(t, s)
	for i := 0; i < 3; i++ {
		if _, err := s.NewLogin(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AddCouple(ctx, id, Couple{ID: NewID(10), Label: "C"}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddRoom(ctx, id, Room{ID: NewID(16), Couple: "x", Template: "checkin", Mode: "guided"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetRecoveryCode(ctx, id, NewRecoveryCode()); err != nil {
		t.Fatal(err)
	}
	before := len(rdb.Keys(ctx, "*").Val())
	if err := s.Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
	var left []string
	iter := rdb.Scan(ctx, 0, "*", 100).Iterator()
	for iter.Next(ctx) {
		left = append(left, iter.Val())
	}
	for _, k := range left {
		if strings.Contains(k, id) {
			t.Errorf("key of the deleted practice left: %s", k)
		}
	}
	// What remains is the other practice: its meta, creds, recovery index.
	if len(left) != 3 || before <= len(left) {
		t.Fatalf("keys left %v (before: %d)", left, before)
	}
	if _, err := s.Get(ctx, other); err != nil {
		t.Fatalf("the other practice went too: %v", err)
	}
	if ttl := rdb.PTTL(ctx, keys{other}.meta()).Val(); ttl >= 0 {
		t.Fatalf("practice keys must not expire; TTL %v", ttl)
	}
}

// FuzzSplitCookie: the cookie parser takes anything a browser (or an
// attacker) sends, and only ever yields ids that are safe in key names.
func FuzzSplitCookie(f *testing.F) {
	f.Add("abc.def")
	f.Add(NewID(16) + "." + NewID(32))
	f.Add("pr:{x}.y")
	f.Add("..")
	f.Fuzz(func(t *testing.T, cookie string) {
		p, secret, ok := splitCookie(cookie)
		if !ok {
			return
		}
		if !ValidID(p) || !ValidID(secret) || p+"."+secret != cookie {
			t.Fatalf("splitCookie(%q) = %q, %q", cookie, p, secret)
		}
	})
}

// FuzzNormalizeCode: whatever is typed, only the code's alphabet reaches
// the hash.
func FuzzNormalizeCode(f *testing.F) {
	f.Add("ABCD-EFGH-2345-67AB-CDEF")
	f.Add("ß\u0130\u212a")
	f.Fuzz(func(t *testing.T, in string) {
		for _, r := range normalizeCode(in) {
			if !(r >= 'A' && r <= 'Z' || r >= '2' && r <= '7') {
				t.Fatalf("normalizeCode(%q) kept %q", in, r)
			}
		}
	})
}

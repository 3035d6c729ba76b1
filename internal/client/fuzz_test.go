package client

import (
	"testing"
	"time"
)

// FuzzServerFrame feeds arbitrary frames to a client that holds texts,
// pending edits and a push in flight: whatever a server (or a broken
// proxy) sends, the client must never panic and must keep its invariant
// (local text = confirmed text + pending edits).
func FuzzServerFrame(f *testing.F) {
	seeds := []string{
		`{"t":"welcome","v":1,"me":{"id":"1","role":"partner_a","name":"A"},"room":{"stage":"wins"},"template":{},"fields":{"wins":{"epoch":"e1","version":2,"text":"hi 👍🏽"}},"members":[]}`,
		`{"t":"welcome","v":1,"fields":{"wins":{"epoch":"e2","version":0,"text":""},"new.partner_b":{"epoch":"e3","version":1,"text":"x"}}}`,
		`{"t":"updates","field":"wins","epoch":"e1","from":2,"updates":[{"clientID":"o","changes":[[7,"yo"]]}]}`,
		`{"t":"updates","field":"wins","epoch":"e1","from":2,"updates":[{"clientID":"me","changes":[7,[0,"!"]]},{"clientID":"o","changes":[1,[1],6]}]}`,
		`{"t":"updates","field":"wins","epoch":"e1","from":1,"updates":[{"clientID":"o","changes":[3]},{"clientID":"o","changes":[[7]]}]}`,
		`{"t":"updates","field":"wins","epoch":"e1","from":9,"updates":[{"clientID":"o","changes":[1]}]}`,
		`{"t":"updates","field":"wins","epoch":"zz","from":2,"updates":[{"clientID":"o","changes":[7]}]}`,
		`{"t":"updates","field":"wins","epoch":"e1","from":2,"updates":[{"clientID":"o","changes":[3,[2,"\ud83d"],2]}]}`,
		`{"t":"updates","field":"wins","epoch":"e1","from":-9223372036854775808,"updates":[{"clientID":"o","changes":[7]}]}`,
		`{"t":"updates","field":"other","epoch":"e1","from":0,"updates":[]}`,
		`{"t":"ack","re":"p1","field":"wins","version":3}`,
		`{"t":"behind","re":"p1","field":"wins","version":5}`,
		`{"t":"reset","re":"p1","field":"wins","epoch":"e4","version":1,"text":"ab\r\ncd"}`,
		`{"t":"reset","field":"wins","epoch":"e1","version":9,"text":"😀😀"}`,
		`{"t":"heads","fields":{"wins":{"epoch":"e1","version":4},"x":{"epoch":"q","version":1}}}`,
		`{"t":"room","room":{"revealed":{"one.partner_b":true,"BAD KEY":true}},"event":{}}`,
		`{"t":"error","re":"p1","code":"on_break","message":"m"}`,
		`{"t":"error","code":"rate_limited","message":"m"}`,
		`{"t":"members","members":[{"id":"1"}]}`,
		`{"t":"presence","member":{"id":"1","field":"wins","sel":[0,1]}}`,
		`{"t":"updates","field":"wins","epoch":"e1","from":2,"updates":[{"clientID":"me","changes":{"a":1}}]}`,
		`{"t":"reset","re":"p1","field":"wins","epoch":"e1","version":1,"text":"h","sig":"s"}`,
		`{"t":"reset","field":"wins","epoch":"e7","version":3,"text":"hi 👍","sig":"s","restoredFrom":"e1"}`,
		`{"t":"reset","field":"wins","epoch":"e8","version":2,"text":"hi 👍🏽","sig":"s","lineage":[{"epoch":"e7","version":2},{"epoch":"e1","version":2}]}`,
		`{"t":"reset","field":"wins","epoch":"e8","version":1,"text":"h","lineage":[{"epoch":"e1","version":9},{"epoch":"","version":-1}]}`,
		`{"t":"welcome","v":1,"fields":{"wins":{"epoch":"e9","version":2,"text":"hi 👍🏽","lineage":[{"epoch":"e1","version":2}]}}}`,
		`{"t":"ack","re":"p1","field":"wins","version":3,"sig":"s3"}`,
		`{"t":"updates","field":"wins","epoch":"e1","from":2,"sig":"s3","updates":[{"clientID":"me","changes":[7,[0,"!"]]}]}`,
		`{"t":"error","code":"room_lost","message":"m"}`,
		`{"t":"error","re":"p1","code":"room_lost","message":"m"}`,
		`{"t":"error","re":"k3","code":"stale_checkpoint","message":"m"}`,
		`{"t":"ok","re":"k3"}`,
		`{"t":"room","room":{"rev":9},"sig":"r9"}`,
		`[1,2]`, `null`, `{"t":7}`, `{"t":"updates","updates":"x"}`, ``, `{`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		now := time.Unix(1000, 0)
		s := newSession("me", true)
		s.online = true
		s.handle([]byte(seeds[0]), now)
		if err := s.edit("wins", 7, 0, "!"); err != nil {
			t.Fatal(err)
		}
		s.pump(now) // push p1 in flight
		if err := s.edit("wins", 0, 2, "👋\n"); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 2; i++ { // twice: duplicates must be harmless too
			s.handle(frame, now)
			s.tick(now.Add(time.Duration(i) * time.Minute))
			s.take()
			checkSession(t, s)
		}
		// The same frame as the very first one of a connection.
		fresh := newSession("me", false)
		fresh.online = true
		fresh.handle(frame, now)
		for key := range fresh.fields {
			_ = fresh.edit(key, 0, 0, "x")
		}
		fresh.handle([]byte(seeds[2]), now)
		fresh.tick(now)
		checkSession(t, fresh)
	})
}

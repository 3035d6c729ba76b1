package scenario_test

import (
	"encoding/json"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"repairroom/internal/client"
	"repairroom/internal/testnode"
)

// delayProxy forwards TCP connections to target, holding every chunk for
// delay in each direction (order kept), like a client 2×delay further away.
type delayProxy struct {
	ln    net.Listener
	delay time.Duration
}

func startDelayProxy(t *testing.T, target string, delay time.Duration) *delayProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &delayProxy{ln: ln, delay: delay}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				_ = in.Close()
				continue
			}
			go p.pipe(in, out)
			go p.pipe(out, in)
		}
	}()
	return p
}

// pipe copies src to dst, each chunk delivered delay after it was read.
func (p *delayProxy) pipe(src, dst net.Conn) {
	type chunk struct {
		at time.Time
		b  []byte
	}
	q := make(chan chunk, 4096)
	go func() {
		defer dst.Close()
		for c := range q {
			time.Sleep(time.Until(c.at))
			if _, err := dst.Write(c.b); err != nil {
				return
			}
		}
	}()
	defer close(q)
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			q <- chunk{time.Now().Add(p.delay), append([]byte(nil), buf[:n]...)}
		}
		if err != nil {
			if err != io.EOF {
				_ = src.Close()
			}
			return
		}
	}
}

// TestDistantClientConvergesWithoutBehindStorms: a partner 300 ms further
// away (150 ms each way through a proxy) types into the shared field while
// the other partner types on a direct link. Its pushes are made at
// versions the partner has already moved past; the server rebases them
// instead of answering behind, so every push is acknowledged, nothing is
// applied twice or lost, and both converge on Redis's text.
func TestDistantClientConvergesWithoutBehindStorms(t *testing.T) {
	cl := startCluster(t, 1, testnode.Options{})
	n := cl.nodes[0]
	r := n.CreateRoom(t, "checkin", "self")
	near := cl.dial(t, 0, r, "partner_a", client.Options{})

	addr := strings.TrimPrefix(n.URL, "http://")
	proxy := startDelayProxy(t, addr, 150*time.Millisecond)
	url := strings.Replace(n.WSURL(r.ID, r.Tokens["partner_b"]), addr, proxy.ln.Addr().String(), 1)
	far, err := client.Dial(ctxFor(t), url, origin, client.Options{Record: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = far.Close() })

	const edits = 40
	var wg sync.WaitGroup
	made := map[*client.Client]int{}
	var mu sync.Mutex
	for i, c := range []*client.Client{near, far} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(11, uint64(i)))
			for e := 0; e < edits; e++ {
				var changed bool
				if err := c.EditWith("wins", func(text string) (int, int, string) {
					pos, del, ins := randomEdit(rnd, text)
					changed = del > 0 || ins != ""
					return pos, del, ins
				}); err != nil {
					t.Errorf("edit: %v", err)
					return
				}
				if changed {
					mu.Lock()
					made[c]++
					mu.Unlock()
				}
				time.Sleep(time.Duration(5+rnd.IntN(20)) * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	f := cl.settle(t, r.ID, "wins", near, far)

	byClient := map[string]int{}
	for _, e := range cl.log(t, r.ID, "wins") {
		byClient[e.ClientID]++
	}
	for _, c := range []*client.Client{near, far} {
		// An edit that concurrent deletions emptied is dropped unsent.
		if want := made[c] - c.Emptied("wins"); byClient[c.ClientID()] != want {
			t.Fatalf("client %s made %d edits (%d emptied by others' deletions), the log holds %d", c.ClientID(), made[c], c.Emptied("wins"), byClient[c.ClientID()])
		}
	}
	behinds, acks := 0, 0
	for _, b := range far.Frames() {
		var m struct {
			T       string `json:"t"`
			Version int64  `json:"version"`
		}
		_ = json.Unmarshal(b, &m)
		switch m.T {
		case "behind":
			behinds++
		case "ack":
			acks++
		}
	}
	t.Logf("far client: %d acks, %d behind; field at v%d with %d units", acks, behinds, f.Version, utf16Len(f.Text))
	if acks == 0 {
		t.Fatal("the distant client's pushes were never acknowledged")
	}
	// With the partner typing every few milliseconds, the distant client's
	// pushes are made at versions already passed: without the server's
	// rebase each would be answered behind.
	if behinds != 0 {
		t.Fatalf("the distant client was answered behind %d times: the server should rebase inside the log", behinds)
	}
}

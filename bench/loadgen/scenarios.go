package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fasthttp/websocket"
)

// abuse is one invite link used by many sockets at once, each sending
// cursor moves as fast as it is allowed to: what issue 12 found could hurt
// every room on the node.
type abuse struct {
	accepted, refused int
	refusals          map[string]int
	socks             []*websocket.Conn
	sent, frames      atomic.Int64
	bytes             atomic.Int64
	closes            sync.Map // close code or error → *atomic.Int64
	stopCh            chan struct{}
	wg                sync.WaitGroup
}

func (lg *loadgen) startAbuse(ctx context.Context) *abuse {
	ab := &abuse{refusals: map[string]int{}, stopCh: make(chan struct{})}
	r := lg.rooms[0]
	n := lg.nodes[0]
	url := wsURL(n.url, r.id, r.tokens["partner_a"])
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := 0; i < lg.cfg.AbuseSockets; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ws, _, _, err := dialWelcome(ctx, url, n.url, r.addr)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				ab.refused++
				msg := err.Error()
				if i := strings.Index(msg, "HTTP "); i >= 0 {
					msg = msg[i : i+8]
				}
				ab.refusals[msg]++
				return
			}
			ab.accepted++
			ab.socks = append(ab.socks, ws)
		}()
	}
	wg.Wait()
	interval := time.Duration(float64(time.Second) / lg.cfg.AbuseRate)
	for k, ws := range ab.socks {
		ab.wg.Add(2)
		go func() { // read and discard, as a browser tab would
			defer ab.wg.Done()
			for {
				_, b, err := ws.ReadMessage()
				if err != nil {
					key := "read error"
					var ce *websocket.CloseError
					if errors.As(err, &ce) {
						key = "close " + strconv.Itoa(ce.Code)
					}
					select {
					case <-ab.stopCh:
						return
					default:
					}
					v, _ := ab.closes.LoadOrStore(key, new(atomic.Int64))
					v.(*atomic.Int64).Add(1)
					return
				}
				ab.frames.Add(1)
				ab.bytes.Add(int64(len(b)))
			}
		}()
		go func() { // cursor spam
			defer ab.wg.Done()
			t := time.NewTicker(interval)
			defer t.Stop()
			for i := 0; ; i++ {
				select {
				case <-ab.stopCh:
					return
				case <-t.C:
				}
				msg := `{"t":"presence","field":"hard_a","sel":[` + strconv.Itoa((i+k)%2) + `,` + strconv.Itoa((i+k)%2) + `]}`
				_ = ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
				if err := ws.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
					return
				}
				ab.sent.Add(1)
			}
		}()
	}
	return ab
}

func (ab *abuse) stop() {
	select {
	case <-ab.stopCh:
		return
	default:
	}
	close(ab.stopCh)
	for _, ws := range ab.socks {
		_ = ws.Close()
	}
	ab.wg.Wait()
}

// AbuseResult is what the abusive sockets met.
type AbuseResult struct {
	Accepted      int              `json:"accepted"`
	Refused       int              `json:"refused"`
	Refusals      map[string]int   `json:"refusals,omitempty"`
	PresenceSent  int64            `json:"presence_sent"`
	FramesRead    int64            `json:"frames_read"`
	BytesRead     int64            `json:"bytes_read"`
	ClosedByServe map[string]int64 `json:"closed_by_server,omitempty"`
}

func (a *AbuseResult) String() string {
	return fmt.Sprintf("%d sockets accepted, %d refused %v; %d cursor moves sent; they read %d frames (%.1f MB); closed during the window: %v",
		a.Accepted, a.Refused, a.Refusals, a.PresenceSent, a.FramesRead, float64(a.BytesRead)/1e6, a.ClosedByServe)
}

// result is read at the end of the window, before stop.
func (ab *abuse) result() *AbuseResult {
	r := &AbuseResult{Accepted: ab.accepted, Refused: ab.refused, Refusals: ab.refusals,
		PresenceSent: ab.sent.Load(), FramesRead: ab.frames.Load(), BytesRead: ab.bytes.Load(), ClosedByServe: map[string]int64{}}
	ab.closes.Range(func(k, v any) bool {
		r.ClosedByServe[k.(string)] = v.(*atomic.Int64).Load()
		return true
	})
	return r
}

func (r *result) abuseAccepted() int {
	if r.Abuse == nil {
		return 0
	}
	return r.Abuse.Accepted
}

// joinTest fills one field per room with -join-updates one-character
// updates (pushed by one client per room, batched 100 to a push as
// @codemirror/collab does with a long queue), then has -joins sockets join
// each room one after another and times socket open → welcome read (the
// welcome carries every field's text: the client is synced).
func (lg *loadgen) joinTest(ctx context.Context, res *result) error {
	if err := lg.connect(); err != nil {
		return err
	}
	field := lg.cfg.Field
	fmt.Fprintf(os.Stderr, "loadgen: filling %d rooms with %d updates each\n", len(lg.rooms), lg.cfg.JoinUpdates)
	const words = "we walked to the market together and you made me laugh "
	deadline := time.Now().Add(3 * time.Minute)
	var wg sync.WaitGroup
	for _, r := range lg.rooms {
		c := r.clients[0]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < lg.cfg.JoinUpdates; i++ {
				c.keystroke(words[i%len(words)], time.Now().UnixNano())
			}
			for time.Now().Before(deadline) {
				if idle, v := c.idle(field); idle && v >= int64(lg.cfg.JoinUpdates) {
					return
				}
				c.tick(time.Now().UnixNano())
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	for _, r := range lg.rooms {
		if idle, v := r.clients[0].idle(field); !idle || v < int64(lg.cfg.JoinUpdates) {
			c := r.clients[0]
			c.mu.Lock()
			errs := maps.Clone(c.c.errors)
			c.mu.Unlock()
			return fmt.Errorf("room %s: field %s reached only version %d of %d in 3 minutes (errors %v)", r.id, field, v, lg.cfg.JoinUpdates, errs)
		}
	}
	fmt.Fprintln(os.Stderr, "loadgen: filled; joining")
	time.Sleep(time.Second)
	stopProfiles, err := lg.startProfiles() // the joins are this test's window
	if err != nil {
		return err
	}
	var mu sync.Mutex
	var lat []int64
	seats := []string{"partner_b", "moderator", "partner_a"}
	if lg.cfg.RoomMode == "self" {
		seats = seats[:1]
	}
	sem := make(chan struct{}, 4)
	for ri, r := range lg.rooms {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			n := lg.nodes[ri%len(lg.nodes)]
			for j := 0; j < lg.cfg.Joins; j++ {
				ws, f, el, err := dialWelcome(ctx, wsURL(n.url, r.id, r.tokens[seats[j%len(seats)]]), n.url, r.addr)
				mu.Lock()
				if err != nil {
					res.JoinErrors = append(res.JoinErrors, fmt.Sprintf("room %s join %d: %v", r.id, j, err))
				} else {
					lat = append(lat, int64(el))
					if got := f.Fields[field].Version; got < int64(lg.cfg.JoinUpdates) {
						res.JoinErrors = append(res.JoinErrors, fmt.Sprintf("room %s join %d: welcome at version %d", r.id, j, got))
					}
				}
				mu.Unlock()
				if ws != nil {
					_ = ws.Close()
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	if err := stopProfiles(); err != nil {
		return err
	}
	res.Join = summarise(lat)
	slices.Sort(res.JoinErrors)
	return nil
}

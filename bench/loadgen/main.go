// Command loadgen measures Repair Room under people typing together.
//
// By default it starts everything itself: a redis-server on a Unix socket
// in a temporary directory, N server nodes (the real server binary, built
// from ./server, one process each, on loopback ports), R rooms created
// through the HTTP API, and C WebSocket clients per room spread round-robin
// over the nodes. Every client types into the shared field "wins" at -rate
// keystrokes per second, one push per keystroke (more only when a push is
// still in flight), for -duration; then typing stops, every client catches
// up, and each client's text is compared with Redis's.
//
// Run from the repository root:
//
//	go run ./bench/loadgen -nodes 2 -rooms 50 -clients 3 -rate 5 -duration 30s
//
// See bench/README.md for what each number means.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"repairroom/internal/store"
)

type config struct {
	Nodes      int           `json:"nodes"`
	Rooms      int           `json:"rooms"`
	Clients    int           `json:"clients_per_room"`
	Rate       float64       `json:"keystrokes_per_s_per_client"`
	Duration   time.Duration `json:"-"`
	DurationS  float64       `json:"duration_s"`
	Mode       string        `json:"node_mode"`
	RoomMode   string        `json:"room_mode"`
	Template   string        `json:"template"`
	Field      string        `json:"field"`
	Redis      string        `json:"redis"`
	AOF        bool          `json:"redis_aof"`
	NodeRedisQ string        `json:"node_redis_url_params,omitempty"`
	Settle     time.Duration `json:"-"`
	Out        string        `json:"-"`
	CPUProfile string        `json:"-"`
	MemProfile string        `json:"-"`
	Perf       string        `json:"-"`
	ServerBin  string        `json:"-"`
	Seed       uint64        `json:"seed"`
	Command    string        `json:"command"`
}

type loadgen struct {
	cfg     config
	nodes   []*node
	rooms   []*roomRun
	clients []*client
	authors []*author
	win     window
}

type roomRun struct {
	lg      *loadgen
	id      string
	tokens  map[string]string
	clients []*client
}

func main() {
	var cfg config
	flag.IntVar(&cfg.Nodes, "nodes", 2, "server nodes (1-8)")
	flag.IntVar(&cfg.Rooms, "rooms", 50, "rooms")
	flag.IntVar(&cfg.Clients, "clients", 3, "clients per room, all typing into the same field, spread round-robin over the nodes")
	flag.Float64Var(&cfg.Rate, "rate", 5, "keystrokes per second per client (the server allows 40 messages/s per connection)")
	flag.DurationVar(&cfg.Duration, "duration", 30*time.Second, "typing time (at most 10m)")
	flag.StringVar(&cfg.Redis, "redis", "", "Redis URL (redis://… or unix://…); empty: start a private redis-server on a Unix socket")
	flag.StringVar(&cfg.NodeRedisQ, "node-redis-params", "", `query parameters added to the nodes' Redis URL, e.g. "pool_size=100" (go-redis reads them from REDIS_URL; default pool: 10 per CPU)`)
	flag.BoolVar(&cfg.AOF, "aof", true, "with the private redis-server: append-only file with fsync every second, as the README asks of production")
	flag.StringVar(&cfg.Mode, "mode", "proc", `"proc": each node is the server binary in its own process (REDIS_URL, SECRET, PORT); "inproc": nodes run inside the load generator (httpapi+realtime+store, as server/wiring.go)`)
	flag.StringVar(&cfg.RoomMode, "room-mode", "guided", `"guided" (three seats: partner_a, partner_b, moderator) or "self" (two partners); clients take the seats in turn`)
	flag.StringVar(&cfg.Template, "template", "checkin", "template of the rooms")
	flag.StringVar(&cfg.Field, "field", "wins", "text field everyone types into (must be writable by every seat in the first stage)")
	flag.DurationVar(&cfg.Settle, "settle", 30*time.Second, "after typing stops, how long to wait for every client to catch up")
	flag.StringVar(&cfg.Out, "out", "", "write the result to this file: .json for JSON, anything else for Markdown")
	flag.StringVar(&cfg.CPUProfile, "cpuprofile", "", "with -mode inproc: write a CPU profile of the typing window (nodes and clients together) to this file")
	flag.StringVar(&cfg.MemProfile, "memprofile", "", "with -mode inproc: write a heap profile (after GC) at the end of the typing window to this file")
	flag.StringVar(&cfg.Perf, "perf", "", "with -mode proc: record perf record -g of node 0 during the typing window into this file (needs perf)")
	flag.StringVar(&cfg.ServerBin, "server-bin", "", "with -mode proc: use this server binary instead of building ./server")
	flag.Uint64Var(&cfg.Seed, "seed", 1, "seed for typing phases")
	flag.Parse()
	cfg.DurationS = cfg.Duration.Seconds()
	cfg.Command = "go run ./bench/loadgen " + strings.Join(os.Args[1:], " ")
	if err := cfg.check(); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(2)
	}
	res, err := run(cfg)
	if res != nil {
		res.print(os.Stdout)
		if cfg.Out != "" {
			if werr := res.write(cfg.Out); werr != nil {
				fmt.Fprintln(os.Stderr, "loadgen:", werr)
				os.Exit(1)
			}
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
	if res != nil && !res.Converged {
		os.Exit(3)
	}
}

// check keeps a run bounded: a load generator must stop by itself and not
// take the machine down.
func (c *config) check() error {
	switch {
	case c.Nodes < 1 || c.Nodes > 8:
		return fmt.Errorf("-nodes must be 1 to 8")
	case c.Rooms < 1 || c.Rooms > 2000:
		return fmt.Errorf("-rooms must be 1 to 2000")
	case c.Clients < 1 || c.Clients > 50:
		return fmt.Errorf("-clients must be 1 to 50")
	case c.Rooms*c.Clients > 6000:
		return fmt.Errorf("at most 6000 clients in all")
	case c.Rate <= 0 || c.Rate > 40:
		return fmt.Errorf("-rate must be above 0 and at most 40 (the server's per-connection limit)")
	case c.Duration < time.Second || c.Duration > 10*time.Minute:
		return fmt.Errorf("-duration must be 1s to 10m")
	case c.Settle < time.Second || c.Settle > 5*time.Minute:
		return fmt.Errorf("-settle must be 1s to 5m")
	case c.Mode != "proc" && c.Mode != "inproc":
		return fmt.Errorf(`-mode must be "proc" or "inproc"`)
	case c.RoomMode != "guided" && c.RoomMode != "self":
		return fmt.Errorf(`-room-mode must be "guided" or "self"`)
	case c.CPUProfile != "" && c.Mode != "inproc":
		return fmt.Errorf("-cpuprofile needs -mode inproc (the nodes must be in this process); use -perf with -mode proc")
	case c.MemProfile != "" && c.Mode != "inproc":
		return fmt.Errorf("-memprofile needs -mode inproc")
	case c.Perf != "" && c.Mode != "proc":
		return fmt.Errorf("-perf needs -mode proc")
	}
	return nil
}

func run(cfg config) (*result, error) {
	lg := &loadgen{cfg: cfg}
	res := &result{Config: cfg, Machine: describeMachine()}
	dir, err := os.MkdirTemp("", "rr-loadgen-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	// Redis.
	redisURL := cfg.Redis
	var rs *redisServer
	if redisURL == "" {
		if rs, err = startRedis(dir, cfg.AOF); err != nil {
			return nil, err
		}
		defer rs.stop()
		redisURL = rs.url
		res.Config.Redis = "private redis-server on a Unix socket"
	} else {
		res.Config.AOF = false // unknown: someone else's Redis
	}
	rdb, err := redisClient(redisURL)
	if err != nil {
		return nil, err
	}
	defer rdb.Close()

	// Nodes.
	nodeURL := redisURL
	if cfg.NodeRedisQ != "" {
		sep := "?"
		if strings.Contains(nodeURL, "?") {
			sep = "&"
		}
		nodeURL += sep + cfg.NodeRedisQ
	}
	bin := cfg.ServerBin
	if cfg.Mode == "proc" && bin == "" {
		fmt.Fprintln(os.Stderr, "loadgen: building ./server")
		if bin, err = buildServer(dir); err != nil {
			return nil, err
		}
	}
	for i := 0; i < cfg.Nodes; i++ {
		var n *node
		if cfg.Mode == "proc" {
			n, err = startProcNode(bin, dir, i, nodeURL)
		} else {
			n, err = startInprocNode(i, nodeURL, dir)
		}
		if err != nil {
			lg.stopNodes()
			return nil, err
		}
		lg.nodes = append(lg.nodes, n)
	}
	defer func() {
		for i, n := range lg.nodes {
			for _, l := range n.logProblems() {
				res.NodeLogProblems = append(res.NodeLogProblems, fmt.Sprintf("node %d: %s", i, l))
			}
		}
	}()
	defer lg.stopNodes()
	fmt.Fprintf(os.Stderr, "loadgen: %d node(s) up (%s)\n", len(lg.nodes), cfg.Mode)

	// Rooms and clients.
	if err := lg.createRooms(); err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "loadgen: %d rooms created\n", len(lg.rooms))
	if err := lg.connect(); err != nil {
		lg.closeClients()
		return nil, err
	}
	defer lg.closeClients()
	fmt.Fprintf(os.Stderr, "loadgen: %d clients connected; typing for %s\n", len(lg.clients), cfg.Duration)
	// Joins publish member lists to every socket of the room: let that
	// settle before the window opens.
	time.Sleep(time.Second)

	// The typing window.
	before := lg.sampleProcs(rs)
	busy0, total0 := machineCPU()
	self0 := selfCPU()
	var prof *os.File
	if cfg.CPUProfile != "" {
		if prof, err = os.Create(cfg.CPUProfile); err != nil {
			return nil, err
		}
		if err := pprof.StartCPUProfile(prof); err != nil {
			return nil, err
		}
	}
	var perf *exec.Cmd
	if cfg.Perf != "" {
		perf = exec.Command("perf", "record", "-F", "499", "-g", "-o", cfg.Perf, "-p", fmt.Sprint(lg.nodes[0].pid))
		perf.Stdout, perf.Stderr = os.Stderr, os.Stderr
		if err := perf.Start(); err != nil {
			return nil, fmt.Errorf("perf: %w", err)
		}
	}
	pool0 := lg.poolStats()
	start := time.Now()
	lg.win.start.Store(start.UnixNano())
	lg.type_(start)
	end := time.Now()
	lg.win.end.Store(end.UnixNano())
	if prof != nil {
		pprof.StopCPUProfile()
		prof.Close()
	}
	if cfg.MemProfile != "" {
		runtime.GC()
		f, err := os.Create(cfg.MemProfile)
		if err != nil {
			return nil, err
		}
		if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
			return nil, err
		}
		f.Close()
	}
	if perf != nil {
		_ = perf.Process.Signal(os.Interrupt)
		_ = perf.Wait()
	}
	for i, p1 := range lg.poolStats() {
		p0 := pool0[i]
		res.RedisPools = append(res.RedisPools, PoolUsage{Node: i, Conns: p1.TotalConns, WaitCount: p1.WaitCount - p0.WaitCount,
			WaitMs: float64(p1.WaitDurationNs-p0.WaitDurationNs) / 1e6, Timeouts: p1.Timeouts - p0.Timeouts, PubSubConns: p1.PubSubStats.Active})
	}
	busy1, total1 := machineCPU()
	self1 := selfCPU()
	after := lg.sampleProcs(rs)
	elapsed := end.Sub(start)
	res.WindowS = elapsed.Seconds()
	if total1 > total0 {
		res.MachineBusyPct = 100 * float64(busy1-busy0) / float64(total1-total0)
		// Jiffies of all CPUs over the window, less ours: what other
		// processes on this machine took.
		ours := (self1 - self0).Seconds()
		for i, b := range before {
			ours += (after[i].s.cpu - b.s.cpu).Seconds()
		}
		other := float64(busy1-busy0)/clkTck - ours
		res.OtherCPUPct = max(0, 100*other/elapsed.Seconds())
	}
	res.Procs = append(res.Procs, ProcUsage{Name: "loadgen (clients" + map[bool]string{true: " + in-process nodes", false: ""}[cfg.Mode == "inproc"] + ")",
		PID: os.Getpid(), CPUSec: (self1 - self0).Seconds(), CPUPct: 100 * (self1 - self0).Seconds() / elapsed.Seconds()})
	for i, b := range before {
		a := after[i]
		res.Procs = append(res.Procs, ProcUsage{Name: b.name, PID: b.pid,
			CPUSec: (a.s.cpu - b.s.cpu).Seconds(), CPUPct: 100 * (a.s.cpu - b.s.cpu).Seconds() / elapsed.Seconds(),
			RSSMiB: float64(a.s.rss) / 1024, PeakMiB: float64(a.s.hwm) / 1024})
	}

	// Catch up and compare.
	fmt.Fprintln(os.Stderr, "loadgen: typing stopped; waiting for every client to catch up")
	lg.settle(rdb, res)
	lg.collect(res)
	return res, nil
}

func (lg *loadgen) stopNodes() {
	var wg sync.WaitGroup
	for _, n := range lg.nodes {
		wg.Add(1)
		go func() { defer wg.Done(); n.stop() }()
	}
	wg.Wait()
}

// poolStats reads the Redis connection pools of in-process nodes.
func (lg *loadgen) poolStats() []*redis.PoolStats {
	var out []*redis.PoolStats
	for _, n := range lg.nodes {
		if n.rdb != nil {
			out = append(out, n.rdb.PoolStats())
		}
	}
	return out
}

// PoolUsage is an in-process node's Redis connection pool over the window.
type PoolUsage struct {
	Node        int     `json:"node"`
	Conns       uint32  `json:"conns"`
	PubSubConns uint32  `json:"pubsub_conns"`
	WaitCount   uint32  `json:"waits_for_a_conn"`
	WaitMs      float64 `json:"wait_ms_total"`
	Timeouts    uint32  `json:"timeouts"`
}

type procRef struct {
	name string
	pid  int
	s    procSample
}

func (lg *loadgen) sampleProcs(rs *redisServer) []procRef {
	var out []procRef
	for i, n := range lg.nodes {
		if n.pid != 0 {
			s, _ := readProc(n.pid)
			out = append(out, procRef{fmt.Sprintf("node %d", i), n.pid, s})
		}
	}
	if rs != nil {
		s, _ := readProc(rs.cmd.Process.Pid)
		out = append(out, procRef{"redis-server", rs.cmd.Process.Pid, s})
	}
	return out
}

// createRooms creates the rooms through the HTTP API, spread over the
// nodes, a few at a time.
func (lg *loadgen) createRooms() error {
	lg.rooms = make([]*roomRun, lg.cfg.Rooms)
	errs := make(chan error, lg.cfg.Rooms)
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i := range lg.rooms {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			r, err := lg.createRoom(lg.nodes[i%len(lg.nodes)], i)
			if err != nil {
				errs <- err
				return
			}
			lg.rooms[i] = r
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func (lg *loadgen) createRoom(n *node, i int) (*roomRun, error) {
	body := fmt.Sprintf(`{"template":%q,"mode":%q}`, lg.cfg.Template, lg.cfg.RoomMode)
	req, _ := http.NewRequest("POST", n.url+"/api/rooms", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	// One made-up client address per room: see TRUSTED_PROXIES in env.go.
	req.Header.Set("X-Forwarded-For", fmt.Sprintf("10.%d.%d.%d", (i>>16)&255, (i>>8)&255, i&255))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("create room: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		return nil, fmt.Errorf("create room: HTTP %d: %s", resp.StatusCode, b)
	}
	var out struct {
		ID    string `json:"id"`
		Links []struct {
			Role string `json:"role"`
			URL  string `json:"url"`
		} `json:"links"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("create room: %w", err)
	}
	r := &roomRun{lg: lg, id: out.ID, tokens: map[string]string{}}
	for _, l := range out.Links {
		_, tok, _ := strings.Cut(l.URL, "#t=")
		r.tokens[l.Role] = tok
	}
	return r, nil
}

// connect opens every client, a few at a time. Client j of room r goes to
// node (r*C+j) mod N, so with more than one node every room spans nodes.
func (lg *loadgen) connect() error {
	seats := []string{"partner_a", "partner_b", "moderator"}
	if lg.cfg.RoomMode == "self" {
		seats = seats[:2]
	}
	for ri, r := range lg.rooms {
		for j := 0; j < lg.cfg.Clients; j++ {
			idx := len(lg.clients)
			c := &client{idx: idx, room: r, node: (ri*lg.cfg.Clients + j) % len(lg.nodes), field: lg.cfg.Field,
				me: &author{}, lat: &latencies{w: &lg.win}, window: &lg.win}
			c.me.node = c.node
			r.clients = append(r.clients, c)
			lg.clients = append(lg.clients, c)
			lg.authors = append(lg.authors, c.me)
		}
	}
	errs := make(chan error, len(lg.clients))
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for _, c := range lg.clients {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			n := lg.nodes[c.node]
			seat := seats[c.idx%lg.cfg.Clients%len(seats)]
			if err := c.dial(ctx, n.wsURL(c.room.id, c.room.tokens[seat]), n.url); err != nil {
				errs <- fmt.Errorf("client %d (room %s, node %d, %s): %w", c.idx, c.room.id, c.node, seat, err)
				return
			}
			go pprof.Do(context.Background(), pprof.Labels("part", "clients"), func(context.Context) { c.readLoop() })
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func (lg *loadgen) closeClients() {
	for _, c := range lg.clients {
		c.close()
	}
}

// type_ runs every typist for the duration: a keystroke every 1/rate
// seconds, each typist starting at a random phase so the load is smooth.
func (lg *loadgen) type_(start time.Time) {
	interval := time.Duration(float64(time.Second) / lg.cfg.Rate)
	stop := start.Add(lg.cfg.Duration)
	rng := rand.New(rand.NewPCG(lg.cfg.Seed, 7))
	const words = "we walked to the market together and you made me laugh "
	var wg sync.WaitGroup
	for _, c := range lg.clients {
		phase := time.Duration(rng.Int64N(int64(interval)))
		wg.Add(1)
		go pprof.Do(context.Background(), pprof.Labels("part", "clients"), func(context.Context) {
			defer wg.Done()
			next := start.Add(phase)
			for i := 0; ; i++ {
				if !next.Before(stop) {
					return
				}
				time.Sleep(time.Until(next))
				now := time.Now()
				c.keystroke(words[(i+c.idx)%len(words)], now.UnixNano())
				next = next.Add(interval)
				if next.Before(now) {
					next = now // fell behind (CPU starved): do not burst
				}
			}
		})
	}
	wg.Wait()
	time.Sleep(time.Until(stop))
}

// settle waits until every client has nothing unconfirmed and holds the
// version Redis has, then compares texts.
func (lg *loadgen) settle(rdb redis.UniversalClient, res *result) {
	st := store.New(rdb, store.DefaultOptions())
	deadline := time.Now().Add(lg.cfg.Settle)
	ctx, cancel := context.WithDeadline(context.Background(), deadline.Add(10*time.Second))
	defer cancel()
	settled := 0
	for _, r := range lg.rooms {
		for {
			fs, err := st.Fields(ctx, r.id, []string{lg.cfg.Field})
			if err != nil {
				res.ConvergenceErrors = append(res.ConvergenceErrors, fmt.Sprintf("room %s: reading Redis: %v", r.id, err))
				break
			}
			f := fs[lg.cfg.Field]
			all := true
			for _, c := range r.clients {
				idle, v, _ := c.idle()
				if !idle || v != f.Version {
					all = false
					c.tick(time.Now().UnixNano())
				}
			}
			if all {
				settled++
				for _, c := range r.clients {
					text, v, ep := c.snapshot()
					if text != f.Text || v != f.Version || ep != f.Epoch {
						res.ConvergenceErrors = append(res.ConvergenceErrors,
							fmt.Sprintf("room %s client %d: v%d %q, Redis v%d %q", r.id, c.idx, v, clip(text), f.Version, clip(f.Text)))
					}
				}
				res.FinalVersions += f.Version
				break
			}
			if time.Now().After(deadline) {
				res.ConvergenceErrors = append(res.ConvergenceErrors, fmt.Sprintf("room %s: not settled after %s", r.id, lg.cfg.Settle))
				for _, c := range r.clients {
					_, v, _ := c.idle()
					c.mu.Lock()
					res.ConvergenceErrors = append(res.ConvergenceErrors, fmt.Sprintf("  client %d: v%d (Redis v%d) pending %d inflight %v pulling %q waitFor %d err %v",
						c.idx, v, f.Version, len(c.pending), c.flight != nil, c.pulling, c.waitFor, c.readErr))
					c.mu.Unlock()
				}
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	res.RoomsSettled = settled
	res.Converged = settled == len(lg.rooms) && len(res.ConvergenceErrors) == 0
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:30] + "…" + s[len(s)-30:]
	}
	return s
}

// collect merges the clients' counters and latencies.
func (lg *loadgen) collect(res *result) {
	var ack, remote, typed, local []int64
	res.Errors = map[string]int64{}
	for _, c := range lg.clients {
		c.mu.Lock()
		ack = append(ack, c.lat.ack...)
		remote = append(remote, c.lat.remote...)
		typed = append(typed, c.lat.typedRemote...)
		local = append(local, c.lat.local...)
		k := c.c
		res.Keystrokes += k.keystrokes
		res.Pushes += k.pushes
		res.PushedUpdates += k.pushedUpdates
		res.Acks += k.acks
		res.AckedUpdatesInWindow += k.ackedUpdates
		res.Behind += k.behind
		res.Rebased += k.rebased
		res.Gaps += k.gaps
		res.DupRemote += k.dupRemote
		res.Resets += k.resets
		res.Anomalies += k.anomalies
		for code, n := range k.errors {
			res.Errors[code] += n
		}
		if c.readErr != nil {
			res.Disconnects++
			if c.closeCode != 0 {
				res.Errors[fmt.Sprintf("close %d", c.closeCode)]++
			}
		}
		c.mu.Unlock()
	}
	res.Ack = summarise(ack)
	res.Remote = summarise(remote)
	res.TypedRemote = summarise(typed)
	res.Local = summarise(local)
	res.Clients = len(lg.clients)
	if res.WindowS > 0 {
		res.AcceptedPerS = float64(res.AckedUpdatesInWindow) / res.WindowS
		res.PushesPerS = float64(res.Pushes) / res.WindowS
	}
}

// Machine describes where the numbers come from.
type Machine struct {
	NProc     int    `json:"nproc"`
	CPU       string `json:"cpu"`
	GoVersion string `json:"go"`
	Redis     string `json:"redis"`
	Kernel    string `json:"kernel"`
	Source    string `json:"source"` // the commit, and Go files changed since, outside bench/
}

func describeMachine() Machine {
	m := Machine{NProc: runtime.NumCPU(), GoVersion: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if out, err := exec.Command("redis-server", "--version").Output(); err == nil {
		m.Redis = strings.TrimSpace(string(out))
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		m.Source = "commit " + strings.TrimSpace(string(out))
		var dirty []string
		if st, err := exec.Command("git", "status", "--porcelain", "--", "*.go").Output(); err == nil {
			for _, l := range strings.Split(strings.TrimRight(string(st), "\n"), "\n") {
				if len(l) > 3 && !strings.HasPrefix(l[3:], "bench/") {
					dirty = append(dirty, l[3:])
				}
			}
		}
		if len(dirty) > 0 {
			m.Source += " + uncommitted changes to " + strings.Join(dirty, ", ")
		}
	}
	return m
}

type result struct {
	Config  config  `json:"config"`
	Machine Machine `json:"machine"`

	Clients              int              `json:"clients"`
	WindowS              float64          `json:"window_s"`
	Keystrokes           int64            `json:"keystrokes"`
	Pushes               int64            `json:"pushes"`
	PushedUpdates        int64            `json:"pushed_updates"`
	Acks                 int64            `json:"acks"`
	AckedUpdatesInWindow int64            `json:"acked_updates_in_window"`
	AcceptedPerS         float64          `json:"accepted_updates_per_s"`
	PushesPerS           float64          `json:"pushes_per_s"`
	FinalVersions        int64            `json:"final_versions_sum"`
	Behind               int64            `json:"behind"`
	Rebased              int64            `json:"rebased"`
	Gaps                 int64            `json:"gaps"`
	DupRemote            int64            `json:"duplicate_remote_updates"`
	Resets               int64            `json:"resets"`
	Anomalies            int64            `json:"anomalies"`
	Disconnects          int64            `json:"disconnects"`
	Errors               map[string]int64 `json:"errors"`

	Ack         Dist `json:"push_to_ack"`
	Remote      Dist `json:"push_to_remote_node_delivery"`
	TypedRemote Dist `json:"keystroke_to_remote_node_delivery"`
	Local       Dist `json:"push_to_same_node_delivery"`

	MachineBusyPct float64     `json:"machine_busy_pct"`
	OtherCPUPct    float64     `json:"other_processes_cpu_pct_of_one_core"`
	Procs          []ProcUsage `json:"processes"`
	RedisPools     []PoolUsage `json:"redis_pools,omitempty"`

	RoomsSettled      int      `json:"rooms_settled"`
	Converged         bool     `json:"converged"`
	ConvergenceErrors []string `json:"convergence_errors,omitempty"`
	NodeLogProblems   []string `json:"node_log_problems,omitempty"`
}

func (r *result) print(w io.Writer) {
	c := r.Config
	fmt.Fprintf(w, "command: %s\n", c.Command)
	fmt.Fprintf(w, "machine: %d CPUs, %s; %s; %s\n", r.Machine.NProc, r.Machine.CPU, r.Machine.GoVersion, r.Machine.Redis)
	fmt.Fprintf(w, "source: %s\n", r.Machine.Source)
	fmt.Fprintf(w, "setup: %d node(s) %s, %d %s rooms × %d clients = %d clients, %.1f keystrokes/s each, %.1fs window, redis: %s (aof %v)",
		c.Nodes, c.Mode, c.Rooms, c.RoomMode, c.Clients, r.Clients, c.Rate, r.WindowS, c.Redis, c.AOF)
	if c.NodeRedisQ != "" {
		fmt.Fprintf(w, ", nodes' Redis URL + ?%s", c.NodeRedisQ)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "keystrokes %d, pushes %d (%.0f/s), updates pushed %d, accepted in window %d (%.0f/s)\n",
		r.Keystrokes, r.Pushes, r.PushesPerS, r.PushedUpdates, r.AckedUpdatesInWindow, r.AcceptedPerS)
	fmt.Fprintf(w, "behind %d, rebased %d, remote updates received twice %d, gaps %d, resets %d, anomalies %d, disconnects %d, errors %v\n",
		r.Behind, r.Rebased, r.DupRemote, r.Gaps, r.Resets, r.Anomalies, r.Disconnects, r.Errors)
	fmt.Fprintf(w, "push → ack:                     %s\n", r.Ack)
	fmt.Fprintf(w, "push → delivery on other node:  %s\n", r.Remote)
	fmt.Fprintf(w, "keystroke → other node:         %s\n", r.TypedRemote)
	fmt.Fprintf(w, "push → delivery on same node:   %s\n", r.Local)
	fmt.Fprintf(w, "machine busy: %.0f%% of %d CPUs; processes not ours: %.0f%% of a core\n", r.MachineBusyPct, r.Machine.NProc, r.OtherCPUPct)
	for _, p := range r.Procs {
		fmt.Fprintf(w, "  %-45s cpu %6.2fs (%5.1f%% of a core)", p.Name, p.CPUSec, p.CPUPct)
		if p.PeakMiB > 0 {
			fmt.Fprintf(w, "  rss %.0f MiB (peak %.0f MiB)", p.RSSMiB, p.PeakMiB)
		}
		fmt.Fprintln(w)
	}
	for _, p := range r.RedisPools {
		fmt.Fprintf(w, "  node %d Redis pool: %d conns (+%d pub/sub), %d waits for a free conn (%.0f ms in all), %d timeouts\n",
			p.Node, p.Conns, p.PubSubConns, p.WaitCount, p.WaitMs, p.Timeouts)
	}
	fmt.Fprintf(w, "converged: %v (%d/%d rooms settled, every client's text equals Redis's)\n", r.Converged, r.RoomsSettled, c.Rooms)
	for i, e := range r.ConvergenceErrors {
		if i == 20 {
			fmt.Fprintf(w, "  … %d more\n", len(r.ConvergenceErrors)-20)
			break
		}
		fmt.Fprintln(w, "  ", e)
	}
	if len(r.NodeLogProblems) > 0 {
		fmt.Fprintf(w, "node log warnings/errors: %d\n", len(r.NodeLogProblems))
		for i, l := range r.NodeLogProblems {
			if i == 5 {
				break
			}
			fmt.Fprintln(w, "  ", l)
		}
	}
}

func (r *result) write(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if strings.HasSuffix(path, ".json") {
		b, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			return err
		}
		return os.WriteFile(path, append(b, '\n'), 0o644)
	}
	var b strings.Builder
	b.WriteString("```\n")
	r.print(&b)
	b.WriteString("```\n")
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

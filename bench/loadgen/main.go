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

	"repairroom/internal/changeset"
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
	NodeEnv    string        `json:"node_env,omitempty"`
	Settle     time.Duration `json:"-"`
	Out        string        `json:"-"`
	CPUProfile string        `json:"-"`
	MemProfile string        `json:"-"`
	Perf       string        `json:"-"`
	NodeHeap   string        `json:"-"`
	ServerBin  string        `json:"-"`
	Seed       uint64        `json:"seed"`
	Command    string        `json:"command"`

	Preset       string        `json:"preset,omitempty"`
	Fields       string        `json:"fields"`
	AppendFsync  string        `json:"redis_appendfsync,omitempty"`
	Cluster      bool          `json:"redis_cluster,omitempty"`
	SlowSeat     string        `json:"slow_seat,omitempty"`
	SlowDelay    time.Duration `json:"-"`
	SlowDelayMs  float64       `json:"slow_one_way_delay_ms,omitempty"`
	AbuseSockets int           `json:"abuse_sockets,omitempty"`
	AbuseRate    float64       `json:"abuse_presence_per_s,omitempty"`
	JoinUpdates  int           `json:"join_updates,omitempty"`
	Joins        int           `json:"joins_per_room,omitempty"`
	GCTrace      bool          `json:"gctrace,omitempty"`
	MutexProfile string        `json:"-"`
	BlockProfile string        `json:"-"`
}

// presets are the scenarios of issue 13 (and the benchmark figures of
// issues 11 and 12). A preset sets defaults; flags given on the command
// line win.
var presets = map[string]map[string]string{
	// 300 rooms of three on one node: two partners typing into their own
	// fields (hard_a, hard_b), the moderator watching.
	"n1-300": {"nodes": "1", "rooms": "300", "clients": "3", "fields": "own", "duration": "20s"},
	// Two nodes; client j of room r goes to node (3r+j) mod 2, so the
	// partners of every room are on different nodes.
	"n2-300":      {"nodes": "2", "rooms": "300", "clients": "3", "fields": "own", "duration": "20s"},
	"cluster-300": {"nodes": "2", "rooms": "300", "clients": "3", "fields": "own", "duration": "20s", "cluster": "true"},
	"n1-1000":     {"nodes": "1", "rooms": "1000", "clients": "3", "fields": "own", "duration": "20s"},
	// Join a room whose field holds 10,000 updates: time to the welcome.
	"join": {"nodes": "1", "rooms": "20", "clients": "1", "fields": "shared", "join-updates": "10000", "joins": "10"},
	// Partner B behind a proxy adding 150 ms each way (300 ms round trip),
	// typing into the same field as partner A on a direct link.
	"slow": {"nodes": "1", "rooms": "20", "clients": "2", "fields": "shared", "slow-seat": "partner_b", "slow-delay": "150ms", "duration": "30s"},
	// One invite link abused: 300 extra sockets on room 0's partner_a
	// link, each sending 20 cursor moves a second, while 100 other rooms
	// type. Latencies count only the other rooms.
	"abuse": {"nodes": "1", "rooms": "101", "clients": "3", "fields": "own", "abuse-sockets": "300", "abuse-rate": "20", "duration": "20s"},
}

type loadgen struct {
	cfg       config
	debugAddr string // node 0's DEBUG_ADDR, with -node-heap
	nodes     []*node
	rooms     []*roomRun
	clients   []*client
	authors   []*author
	redis     []*redisServer
	win       window
}

type roomRun struct {
	lg      *loadgen
	id      string
	addr    string // made-up client address (X-Forwarded-For) of the room's people
	tokens  map[string]string
	clients []*client
}

func main() {
	var cfg config
	var source string
	flag.IntVar(&cfg.Nodes, "nodes", 2, "server nodes (1-8)")
	flag.IntVar(&cfg.Rooms, "rooms", 50, "rooms")
	flag.IntVar(&cfg.Clients, "clients", 3, "clients per room, all typing into the same field, spread round-robin over the nodes")
	flag.Float64Var(&cfg.Rate, "rate", 5, "keystrokes per second per client (the server allows 40 messages/s per connection)")
	flag.DurationVar(&cfg.Duration, "duration", 30*time.Second, "typing time (at most 10m)")
	flag.StringVar(&cfg.Redis, "redis", "", "Redis URL (redis://… or unix://…); empty: start a private redis-server on a Unix socket")
	flag.StringVar(&cfg.NodeEnv, "node-env", "", `with -mode proc: extra environment for the nodes, comma-separated, e.g. "GOGC=50,GOMAXPROCS=1"`)
	flag.StringVar(&cfg.NodeRedisQ, "node-redis-params", "", `query parameters added to the nodes' Redis URL, e.g. "pool_size=100" (go-redis reads them from REDIS_URL; default pool: 10 per CPU)`)
	flag.BoolVar(&cfg.AOF, "aof", true, "with the private redis-server: append-only file with fsync every second, as the README asks of production")
	flag.StringVar(&cfg.Mode, "mode", "proc", `"proc": each node is the server binary in its own process (REDIS_URL, SECRET, PORT); "inproc": nodes run inside the load generator (httpapi+realtime+store, as server/wiring.go)`)
	flag.StringVar(&cfg.RoomMode, "room-mode", "guided", `"guided" (three seats: partner_a, partner_b, moderator) or "self" (two partners); clients take the seats in turn`)
	flag.StringVar(&cfg.Template, "template", "checkin", "template of the rooms")
	flag.StringVar(&cfg.Field, "field", "wins", "text field everyone types into (must be writable by every seat in the first stage)")
	flag.DurationVar(&cfg.Settle, "settle", 30*time.Second, "after typing stops, how long to wait for every client to catch up")
	flag.StringVar(&cfg.Out, "out", "", "write the result to this file: .json for JSON, anything else for Markdown")
	flag.StringVar(&cfg.CPUProfile, "cpuprofile", "", "with -mode inproc: write a CPU profile of the typing window, or of the joins with -join-updates (nodes and clients together), to this file")
	flag.StringVar(&cfg.MemProfile, "memprofile", "", "with -mode inproc: write a heap profile (after GC) at the end of the typing window to this file")
	flag.StringVar(&cfg.NodeHeap, "node-heap", "", "with -mode proc: node 0 serves its profiles on a loopback port (DEBUG_ADDR); at the end of the typing window write its heap profile (after a GC) to this file, and report its live heap, stacks and goroutines per socket")
	flag.StringVar(&cfg.Perf, "perf", "", "with -mode proc: record perf record -g of node 0 during the typing window into this file (needs perf)")
	flag.StringVar(&cfg.ServerBin, "server-bin", "", "with -mode proc: use this server binary instead of building ./server")
	flag.Uint64Var(&cfg.Seed, "seed", 1, "seed for typing phases")
	flag.StringVar(&cfg.Preset, "preset", "", "a scenario: n1-300, n2-300, cluster-300, n1-1000, join, slow, abuse (see presets in main.go); flags given as well win")
	flag.StringVar(&cfg.Fields, "fields", "own", `"own": partner_a types into hard_a, partner_b into hard_b (the moderator moves the room to that stage first), everyone follows both; "shared": everyone types into -field`)
	flag.StringVar(&cfg.AppendFsync, "appendfsync", "everysec", "with the private redis-server and -aof: appendfsync everysec, always or no")
	flag.BoolVar(&cfg.Cluster, "cluster", false, "start a private three-master Redis Cluster on loopback instead of one redis-server (nodes get REDIS_CLUSTER_ADDRS)")
	flag.StringVar(&cfg.SlowSeat, "slow-seat", "", "clients of this seat connect through a TCP proxy that delays every byte by -slow-delay each way")
	flag.DurationVar(&cfg.SlowDelay, "slow-delay", 150*time.Millisecond, "one-way delay of the proxy for -slow-seat")
	flag.IntVar(&cfg.AbuseSockets, "abuse-sockets", 0, "extra sockets opened on room 0's partner_a link, sending cursor moves; room 0 is then left out of the latencies")
	flag.Float64Var(&cfg.AbuseRate, "abuse-rate", 20, "cursor moves per second per abusive socket")
	flag.IntVar(&cfg.JoinUpdates, "join-updates", 0, "join test: fill each room's field with this many one-character updates, then time -joins sockets joining it (no typing window)")
	flag.IntVar(&cfg.Joins, "joins", 10, "join test: sockets joining each room, one after another")
	flag.StringVar(&source, "source", "", "what server source this is (default: the git commit of the working directory, and Go files changed since)")
	flag.BoolVar(&cfg.GCTrace, "gctrace", true, "with -mode proc: run nodes with GODEBUG=gctrace=1 and report their GC cycles and GC CPU in the window")
	flag.StringVar(&cfg.MutexProfile, "mutexprofile", "", "with -mode inproc: write a mutex contention profile of the window")
	flag.StringVar(&cfg.BlockProfile, "blockprofile", "", "with -mode inproc: write a blocking profile of the window")
	flag.Parse()
	if cfg.Preset != "" {
		p, ok := presets[cfg.Preset]
		if !ok {
			fmt.Fprintln(os.Stderr, "loadgen: unknown -preset", cfg.Preset)
			os.Exit(2)
		}
		given := map[string]bool{}
		flag.Visit(func(f *flag.Flag) { given[f.Name] = true })
		for k, v := range p {
			if !given[k] {
				if err := flag.Set(k, v); err != nil {
					fmt.Fprintln(os.Stderr, "loadgen: preset:", err)
					os.Exit(2)
				}
			}
		}
	}
	cfg.SlowDelayMs = ms(int64(cfg.SlowDelay))
	cfg.DurationS = cfg.Duration.Seconds()
	cfg.Command = commandLine(os.Args[1:])
	if err := cfg.check(); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(2)
	}
	res, err := run(cfg, source)
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

// commandLine is how to repeat this run from the repository root, without
// this machine's paths: bench/snapshot.sh passes the server binary and the
// source, and names itself in LOADGEN_CMD_PREFIX.
func commandLine(args []string) string {
	prefix := "go run ./bench/loadgen"
	if p := os.Getenv("LOADGEN_CMD_PREFIX"); p != "" {
		prefix = p
	}
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		name := strings.TrimLeft(a, "-")
		switch {
		case name == "server-bin" || name == "source":
			i++ // and its value
			continue
		case strings.HasPrefix(name, "server-bin=") || strings.HasPrefix(name, "source="):
			continue
		}
		if j := strings.Index(a, "/bench/"); j > 0 && strings.HasPrefix(a, "/") {
			a = a[j+1:]
		}
		out = append(out, a)
	}
	return strings.TrimSpace(prefix + " " + strings.Join(out, " "))
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
	case c.NodeHeap != "" && c.Mode != "proc":
		return fmt.Errorf("-node-heap needs -mode proc (in-process nodes share the load generator's heap)")
	case c.NodeEnv != "" && c.Mode != "proc":
		return fmt.Errorf("-node-env needs -mode proc (in-process nodes share the load generator's runtime)")
	case (c.MutexProfile != "" || c.BlockProfile != "") && c.Mode != "inproc":
		return fmt.Errorf("-mutexprofile and -blockprofile need -mode inproc")
	case c.Fields != "own" && c.Fields != "shared":
		return fmt.Errorf(`-fields must be "own" or "shared"`)
	case c.Fields == "own" && c.RoomMode != "guided":
		return fmt.Errorf(`-fields own needs -room-mode guided (the moderator moves the room to the stage of hard_a and hard_b)`)
	case c.Fields == "own" && c.Template != "checkin":
		return fmt.Errorf(`-fields own needs -template checkin`)
	case c.AppendFsync != "everysec" && c.AppendFsync != "always" && c.AppendFsync != "no":
		return fmt.Errorf("-appendfsync must be everysec, always or no")
	case c.Cluster && (c.Redis != "" || c.Mode != "proc"):
		return fmt.Errorf("-cluster starts its own Redis Cluster, with -mode proc")
	case c.SlowSeat != "" && (c.SlowDelay < 0 || c.SlowDelay > 2*time.Second):
		return fmt.Errorf("-slow-delay must be 0 to 2s")
	case c.AbuseSockets < 0 || c.AbuseSockets > 1000:
		return fmt.Errorf("-abuse-sockets must be 0 to 1000")
	case c.AbuseSockets > 0 && (c.Rooms < 2 || c.AbuseRate <= 0 || c.AbuseRate > 100):
		return fmt.Errorf("-abuse-sockets needs at least 2 rooms and -abuse-rate above 0, at most 100")
	case c.JoinUpdates < 0 || c.JoinUpdates > 20000:
		return fmt.Errorf("-join-updates must be 0 to 20000")
	case c.JoinUpdates > 0 && (c.Joins < 1 || c.Joins > 100 || c.Rooms > 200):
		return fmt.Errorf("join test: -joins 1 to 100 and at most 200 rooms")
	}
	return nil
}

func run(cfg config, source string) (*result, error) {
	lg := &loadgen{cfg: cfg}
	res := &result{Config: cfg, Machine: describeMachine()}
	if source != "" {
		res.Machine.Source = source
	}
	dir, err := os.MkdirTemp("", "rr-loadgen-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	// Redis.
	redisURL := cfg.Redis
	var clusterAddrs []string
	switch {
	case cfg.Cluster:
		cl, err := startCluster(dir, cfg.AOF, cfg.AppendFsync)
		if err != nil {
			return nil, err
		}
		defer cl.stop()
		lg.redis = cl.servers
		clusterAddrs = cl.addrs
		res.Config.Redis = "private three-master Redis Cluster on loopback TCP"
	case redisURL == "":
		rs, err := startRedis(dir, cfg.AOF, cfg.AppendFsync)
		if err != nil {
			return nil, err
		}
		defer rs.stop()
		lg.redis = []*redisServer{rs}
		redisURL = rs.url
		res.Config.Redis = "private redis-server on a Unix socket"
	default:
		res.Config.AOF = false // unknown: someone else's Redis
	}
	var rdb redis.UniversalClient
	if clusterAddrs != nil {
		rdb = redis.NewUniversalClient(&redis.UniversalOptions{Addrs: clusterAddrs, IsClusterMode: true, MaxRedirects: 16})
	} else if rdb, err = redisClient(redisURL); err != nil {
		return nil, err
	}
	defer rdb.Close()

	// Nodes.
	nodeURL := redisURL
	if cfg.NodeRedisQ != "" && nodeURL != "" {
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
			env := nodeEnv(cfg.NodeEnv)
			if i == 0 && cfg.NodeHeap != "" {
				port, perr := freePort()
				if perr != nil {
					return nil, perr
				}
				lg.debugAddr = fmt.Sprintf("127.0.0.1:%d", port)
				env = append(env, "DEBUG_ADDR="+lg.debugAddr)
			}
			n, err = startProcNode(bin, dir, i, nodeURL, clusterAddrs, cfg.GCTrace, env)
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
	if cfg.SlowSeat != "" {
		for _, n := range lg.nodes {
			p, err := startDelayProxy(strings.TrimPrefix(n.url, "http://"), cfg.SlowDelay)
			if err != nil {
				return nil, err
			}
			defer p.close()
			n.slowURL = "http://" + p.addr()
		}
	}

	// Rooms and clients.
	if err := lg.createRooms(); err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "loadgen: %d rooms created\n", len(lg.rooms))
	if cfg.JoinUpdates > 0 {
		err := lg.joinTest(ctx, res)
		lg.closeClients()
		res.Clients = len(lg.clients)
		res.Converged = err == nil && len(res.JoinErrors) == 0
		return res, err
	}
	rss0 := lg.sampleProcs()
	if err := lg.connect(); err != nil {
		lg.closeClients()
		return nil, err
	}
	defer lg.closeClients()
	if cfg.Fields == "own" {
		if err := lg.moveToStage(ctx, "hard"); err != nil {
			return nil, err
		}
	}
	fmt.Fprintf(os.Stderr, "loadgen: %d clients connected; typing for %s\n", len(lg.clients), cfg.Duration)
	var ab *abuse
	if cfg.AbuseSockets > 0 {
		ab = lg.startAbuse(ctx)
		defer ab.stop()
		fmt.Fprintf(os.Stderr, "loadgen: abuse: %d sockets accepted, %d refused %v\n", ab.accepted, ab.refused, ab.refusals)
	}
	// Joins publish member lists to every socket of the room: let that
	// settle before the window opens.
	time.Sleep(time.Second)

	// The typing window.
	before := lg.sampleProcs()
	busy0, total0 := machineCPU()
	self0 := selfCPU()
	cmd0 := lg.redisStats(ctx)
	aof0 := lg.aofBytes()
	stopProf, err := lg.startProfiles()
	if err != nil {
		return nil, err
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
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	start := time.Now()
	lg.win.start.Store(start.UnixNano())
	lg.type_(start)
	end := time.Now()
	lg.win.end.Store(end.UnixNano())
	if cfg.NodeHeap != "" {
		if res.NodeMem, err = nodeHeap(lg.debugAddr, cfg.NodeHeap, len(lg.clients)/max(1, cfg.Nodes)); err != nil {
			return nil, err
		}
	}
	var ms1 runtime.MemStats
	runtime.ReadMemStats(&ms1)
	if err := stopProf(); err != nil {
		return nil, err
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
	after := lg.sampleProcs()
	cmd1 := lg.redisStats(ctx)
	aof1 := lg.aofBytes()
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
	res.LoadgenCPUPct = 100 * (self1 - self0).Seconds() / elapsed.Seconds()
	var nodeCPU, redisCPU float64
	var rssBefore, rssAfter, peak int64
	for i, b := range before {
		a := after[i]
		cpu := (a.s.cpu - b.s.cpu).Seconds()
		res.Procs = append(res.Procs, ProcUsage{Name: b.name, PID: b.pid,
			CPUSec: cpu, CPUPct: 100 * cpu / elapsed.Seconds(),
			RSSMiB: float64(a.s.rss) / 1024, PeakMiB: float64(a.s.hwm) / 1024})
		if b.isNode {
			nodeCPU += cpu
			rssBefore += rss0[i].s.rss
			rssAfter += a.s.rss
			peak += a.s.hwm
		} else {
			redisCPU += cpu
		}
	}
	if cfg.Mode == "inproc" {
		res.GC = &GCUsage{Cycles: ms1.NumGC - ms0.NumGC, PauseMs: float64(ms1.PauseTotalNs-ms0.PauseTotalNs) / 1e6,
			Note: "whole load-generator process (nodes and clients share one Go runtime)"}
	} else if cfg.GCTrace {
		res.GC = lg.gcUsage(start, end)
	}

	// Catch up and compare.
	fmt.Fprintln(os.Stderr, "loadgen: typing stopped; waiting for every client to catch up")
	lg.settle(rdb, res)
	lg.collect(res)
	if ab != nil {
		res.Abuse = ab.result()
	}
	keys := float64(res.TypedInWindow)
	if keys > 0 {
		if cfg.Mode == "proc" {
			res.ServerCPUmsPerKey = 1000 * nodeCPU / keys
			if res.Pushes > 0 {
				res.ServerCPUmsPerPush = 1000 * nodeCPU / float64(res.Pushes)
			}
		}
		if len(lg.redis) > 0 {
			res.RedisCPUmsPerKey = 1000 * redisCPU / keys
			res.RedisCmdUsPerKey = float64(cmd1.usec-cmd0.usec) / keys
			res.RedisScriptUsPerKey = float64(cmd1.scriptUsec-cmd0.scriptUsec) / keys
			res.RedisCalls = cmd1.calls - cmd0.calls
			res.RedisCallsPerKey = float64(cmd1.calls-cmd0.calls) / keys
			res.RedisTopCommands = topCommands(cmd0, cmd1, keys)
			if aof0 >= 0 && aof1 >= 0 {
				res.AOFBytesPerKey = float64(aof1-aof0) / keys
			}
		}
	}
	if cfg.Mode == "proc" && len(lg.clients) > 0 {
		n := float64(len(lg.clients) + res.abuseAccepted())
		res.RSSPerSocketKB = float64(rssAfter) / n
		res.PeakRSSPerSocketKB = float64(peak) / n
		res.RSSDeltaPerSocketKB = float64(rssAfter-rssBefore) / n
		res.NodeRSSBeforeMiB = float64(rssBefore) / 1024
	}
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
	name   string
	pid    int
	isNode bool
	s      procSample
}

// sampleProcs reads CPU and memory of the node processes and the
// redis-servers this run started, always in the same order.
func (lg *loadgen) sampleProcs() []procRef {
	var out []procRef
	for i, n := range lg.nodes {
		if n.pid != 0 {
			s, _ := readProc(n.pid)
			out = append(out, procRef{fmt.Sprintf("node %d", i), n.pid, true, s})
		}
	}
	for i, rs := range lg.redis {
		s, _ := readProc(rs.cmd.Process.Pid)
		name := "redis-server"
		if len(lg.redis) > 1 {
			name = fmt.Sprintf("redis-server (cluster master %d)", i)
		}
		out = append(out, procRef{name, rs.cmd.Process.Pid, false, s})
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
	addr := fmt.Sprintf("10.%d.%d.%d", (i>>16)&255, (i>>8)&255, i&255)
	req.Header.Set("X-Forwarded-For", addr)
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
	r := &roomRun{lg: lg, id: out.ID, addr: addr, tokens: map[string]string{}}
	for _, l := range out.Links {
		_, tok, _ := strings.Cut(l.URL, "#t=")
		r.tokens[l.Role] = tok
	}
	return r, nil
}

// connect opens every client, a few at a time. Client j of room r goes to
// node (r*C+j) mod N, so with more than one node every room spans nodes
// (with three clients and two nodes, the two partners are always on
// different nodes).
func (lg *loadgen) connect() error {
	seats := []string{"partner_a", "partner_b", "moderator"}
	if lg.cfg.RoomMode == "self" {
		seats = seats[:2]
	}
	for ri, r := range lg.rooms {
		for j := 0; j < lg.cfg.Clients; j++ {
			idx := len(lg.clients)
			seat := seats[j%len(seats)]
			c := &client{idx: idx, room: r, node: (ri*lg.cfg.Clients + j) % len(lg.nodes), seat: seat,
				me: &author{}, lat: &latencies{w: &lg.win}, window: &lg.win,
				measured: !(lg.cfg.AbuseSockets > 0 && ri == 0), slow: seat == lg.cfg.SlowSeat}
			if lg.cfg.Fields == "own" {
				c.follow = []string{"hard_a", "hard_b"}
				switch seat {
				case "partner_a":
					c.typeField = "hard_a"
				case "partner_b":
					c.typeField = "hard_b"
				}
			} else {
				c.follow = []string{lg.cfg.Field}
				c.typeField = lg.cfg.Field
			}
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
			base := n.url
			if c.slow {
				base = n.slowURL
			}
			if err := c.dial(ctx, wsURL(base, c.room.id, c.room.tokens[c.seat]), base); err != nil {
				errs <- fmt.Errorf("client %d (room %s, node %d, %s): %w", c.idx, c.room.id, c.node, c.seat, err)
				return
			}
			go pprof.Do(context.Background(), pprof.Labels("part", "clients"), func(context.Context) { c.readLoop() })
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// moveToStage has each room's moderator move the room to stage, where
// hard_a and hard_b are written.
func (lg *loadgen) moveToStage(ctx context.Context, stage string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	errs := make(chan error, len(lg.rooms))
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for _, r := range lg.rooms {
		var mod *client
		for _, c := range r.clients {
			if c.seat == "moderator" {
				mod = c
				break
			}
		}
		if mod == nil {
			return fmt.Errorf("room %s has no moderator client to move it to stage %q (use -clients 3)", r.id, stage)
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := mod.act(ctx, map[string]any{"act": "stage.set", "stage": stage}); err != nil {
				errs <- fmt.Errorf("room %s: %w", r.id, err)
			}
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
		if c.typeField == "" {
			continue // a watcher
		}
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
// version Redis has of every field it follows, then compares texts, and
// counts lost keystrokes: each keystroke inserts one character, so a field
// must end as long as the keystrokes typed into it (and, with one typist,
// equal to what it typed).
func (lg *loadgen) settle(rdb redis.UniversalClient, res *result) {
	opts := store.DefaultOptions()
	opts.Sharded = lg.cfg.Cluster
	st := store.New(rdb, opts)
	deadline := time.Now().Add(lg.cfg.Settle)
	ctx, cancel := context.WithDeadline(context.Background(), deadline.Add(10*time.Second))
	defer cancel()
	settled := 0
	for _, r := range lg.rooms {
		names := r.clients[0].follow
		for {
			fs, err := st.Fields(ctx, r.id, names)
			if err != nil {
				res.ConvergenceErrors = append(res.ConvergenceErrors, fmt.Sprintf("room %s: reading Redis: %v", r.id, err))
				break
			}
			all := true
			for _, c := range r.clients {
				for _, name := range names {
					idle, v := c.idle(name)
					if !idle || v != fs[name].Version {
						all = false
					}
				}
				if !all {
					c.tick(time.Now().UnixNano())
				}
			}
			if all {
				settled++
				for _, name := range names {
					f := fs[name]
					var typed int64
					var typists []*client
					for _, c := range r.clients {
						text, v, ep := c.snapshot(name)
						if text != f.Text || v != f.Version || ep != f.Epoch {
							res.ConvergenceErrors = append(res.ConvergenceErrors,
								fmt.Sprintf("room %s %s client %d: v%d %q, Redis v%d %q", r.id, name, c.idx, v, clip(text), f.Version, clip(f.Text)))
						}
						if c.typeField == name {
							c.mu.Lock()
							typed += c.c.keystrokes
							c.mu.Unlock()
							typists = append(typists, c)
						}
					}
					res.FinalVersions += f.Version
					got := int64(changeset.UTF16Len(f.Text))
					switch {
					case got < typed:
						res.Lost += typed - got
					case got > typed:
						res.ConvergenceErrors = append(res.ConvergenceErrors, fmt.Sprintf("room %s %s: %d characters in Redis, %d typed", r.id, name, got, typed))
					}
					if len(typists) == 1 && got == typed && f.Text != typists[0].typedText() {
						res.ConvergenceErrors = append(res.ConvergenceErrors, fmt.Sprintf("room %s %s: Redis holds other text than its one typist typed", r.id, name))
					}
				}
				break
			}
			if time.Now().After(deadline) {
				res.ConvergenceErrors = append(res.ConvergenceErrors, fmt.Sprintf("room %s: not settled after %s", r.id, lg.cfg.Settle))
				for _, c := range r.clients {
					c.mu.Lock()
					for _, s := range c.fields {
						res.ConvergenceErrors = append(res.ConvergenceErrors, fmt.Sprintf("  client %d %s: v%d (Redis v%d) pending %d inflight %v pulling %q waitFor %d err %v",
							c.idx, s.name, s.version, fs[s.name].Version, len(s.pending), s.flight != nil, s.pulling, s.waitFor, c.readErr))
					}
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
	var ack, remote, typed, local, typedAll, slowAck, connect []int64
	res.Errors = map[string]int64{}
	for _, c := range lg.clients {
		c.mu.Lock()
		ack = append(ack, c.lat.ack...)
		remote = append(remote, c.lat.remote...)
		typed = append(typed, c.lat.typedRemote...)
		local = append(local, c.lat.local...)
		typedAll = append(typedAll, c.lat.typedAll...)
		slowAck = append(slowAck, c.lat.slowAck...)
		if c.measured && c.connectNs > 0 {
			connect = append(connect, c.connectNs)
		}
		k := c.c
		res.TypedInWindow += k.typedInWindow
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
	res.TypedAll = summarise(typedAll)
	res.SlowAck = summarise(slowAck)
	res.Connect = summarise(connect)
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

	TypedInWindow int64 `json:"keystrokes_in_window"`
	Lost          int64 `json:"lost_keystrokes"`

	TypedAll    Dist `json:"keystroke_to_other_sockets"`
	Connect     Dist `json:"socket_open_to_synced"`
	SlowAck     Dist `json:"push_to_ack_behind_proxy,omitempty"`
	Join        Dist `json:"join_to_synced,omitempty"`
	Ack         Dist `json:"push_to_ack"`
	Remote      Dist `json:"push_to_remote_node_delivery"`
	TypedRemote Dist `json:"keystroke_to_remote_node_delivery"`
	Local       Dist `json:"push_to_same_node_delivery"`

	MachineBusyPct float64     `json:"machine_busy_pct"`
	OtherCPUPct    float64     `json:"other_processes_cpu_pct_of_one_core"`
	Procs          []ProcUsage `json:"processes"`
	RedisPools     []PoolUsage `json:"redis_pools,omitempty"`

	LoadgenCPUPct       float64       `json:"loadgen_cpu_pct_of_one_core"`
	ServerCPUmsPerKey   float64       `json:"server_cpu_ms_per_keystroke,omitempty"`
	ServerCPUmsPerPush  float64       `json:"server_cpu_ms_per_push,omitempty"` // pushes carry several keystrokes when acks are slow
	RedisCPUmsPerKey    float64       `json:"redis_cpu_ms_per_keystroke,omitempty"`
	RedisCmdUsPerKey    float64       `json:"redis_commandstats_usec_per_keystroke,omitempty"` // every command, those inside scripts counted twice
	RedisScriptUsPerKey float64       `json:"redis_script_usec_per_keystroke,omitempty"`       // EVAL/EVALSHA/FCALL, with what they call
	RedisCalls          int64         `json:"redis_calls,omitempty"`
	RedisCallsPerKey    float64       `json:"redis_calls_per_keystroke,omitempty"`
	RedisTopCommands    []CommandCost `json:"redis_top_commands,omitempty"`
	AOFBytesPerKey      float64       `json:"aof_bytes_per_keystroke,omitempty"`
	RSSPerSocketKB      float64       `json:"node_rss_per_socket_kib,omitempty"`
	NodeMem             *NodeMem      `json:"node_mem,omitempty"`
	PeakRSSPerSocketKB  float64       `json:"node_peak_rss_per_socket_kib,omitempty"`
	RSSDeltaPerSocketKB float64       `json:"node_rss_growth_per_socket_kib,omitempty"`
	NodeRSSBeforeMiB    float64       `json:"node_rss_before_sockets_mib,omitempty"`
	GC                  *GCUsage      `json:"gc,omitempty"`
	Abuse               *AbuseResult  `json:"abuse,omitempty"`
	JoinErrors          []string      `json:"join_errors,omitempty"`

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
	if c.NodeEnv != "" {
		fmt.Fprintf(w, ", nodes' environment + %s", c.NodeEnv)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "keystrokes %d, pushes %d (%.0f/s), updates pushed %d, accepted in window %d (%.0f/s)\n",
		r.Keystrokes, r.Pushes, r.PushesPerS, r.PushedUpdates, r.AckedUpdatesInWindow, r.AcceptedPerS)
	fmt.Fprintf(w, "behind %d, rebased %d, remote updates received twice %d, gaps %d, resets %d, anomalies %d, disconnects %d, errors %v\n",
		r.Behind, r.Rebased, r.DupRemote, r.Gaps, r.Resets, r.Anomalies, r.Disconnects, r.Errors)
	if c.JoinUpdates > 0 {
		fmt.Fprintf(w, "join a room whose field holds %d updates → synced (welcome read): %s\n", c.JoinUpdates, r.Join)
		for i, e := range r.JoinErrors {
			if i == 10 {
				break
			}
			fmt.Fprintln(w, "  ", e)
		}
		return
	}
	fmt.Fprintf(w, "keystrokes in window %d, lost %d, disconnects (each would be a reconnect) %d\n", r.TypedInWindow, r.Lost, r.Disconnects)
	fmt.Fprintf(w, "keystroke → other sockets:      %s\n", r.TypedAll)
	fmt.Fprintf(w, "socket open → synced:           %s\n", r.Connect)
	if c.SlowSeat != "" {
		fmt.Fprintf(w, "push → ack behind the proxy:    %s\n", r.SlowAck)
	}
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
	fmt.Fprintf(w, "server CPU per push %.3f ms (%.1f keystrokes per push)\n", r.ServerCPUmsPerPush, float64(r.PushedUpdates)/max(1, float64(r.Pushes)))
	fmt.Fprintf(w, "per keystroke: server CPU %.3f ms, Redis CPU %.3f ms (commandstats: scripts %.1f µs; all commands %.1f µs in %.2f calls, counting commands inside scripts twice), AOF %.0f bytes; load generator %.0f%% of a core\n",
		r.ServerCPUmsPerKey, r.RedisCPUmsPerKey, r.RedisScriptUsPerKey, r.RedisCmdUsPerKey, r.RedisCallsPerKey, r.AOFBytesPerKey, r.LoadgenCPUPct)
	for _, cc := range r.RedisTopCommands {
		fmt.Fprintf(w, "  redis %-28s %6.2f calls %7.2f µs per keystroke\n", cc.Command, cc.CallsPerKey, cc.UsecPerKey)
	}
	fmt.Fprintf(w, "node RSS per socket: %.0f KiB now, %.0f KiB peak, %.0f KiB growth since before the sockets (nodes held %.0f MiB then)\n",
		r.RSSPerSocketKB, r.PeakRSSPerSocketKB, r.RSSDeltaPerSocketKB, r.NodeRSSBeforeMiB)
	if m := r.NodeMem; m != nil {
		fmt.Fprintf(w, "node 0 at the end of the window (%d sockets): %s\n", m.Sockets, m)
	}
	if r.GC != nil {
		fmt.Fprintf(w, "GC in window: %s\n", r.GC)
	}
	if r.Abuse != nil {
		fmt.Fprintf(w, "abuse: %s\n", r.Abuse)
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

package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"
)

// redisCounters are INFO commandstats summed over this run's redis-servers.
type redisCounters struct {
	calls, usec int64
	scriptUsec  int64
	perCmd      map[string][2]int64 // calls, usec
}

// scriptCommands run Lua or functions: the commands a script calls inside
// are counted both on their own line and in the script's time.
var scriptCommands = map[string]bool{"eval": true, "evalsha": true, "eval_ro": true, "evalsha_ro": true, "fcall": true, "fcall_ro": true}

func (lg *loadgen) redisStats(ctx context.Context) redisCounters {
	out := redisCounters{perCmd: map[string][2]int64{}}
	for _, rs := range lg.redis {
		c, err := redisClient(rs.url)
		if err != nil {
			continue
		}
		info, err := c.Info(ctx, "commandstats").Result()
		_ = c.Close()
		if err != nil {
			continue
		}
		for _, l := range strings.Split(info, "\n") {
			name, rest, ok := strings.Cut(strings.TrimSpace(l), ":")
			name, isCmd := strings.CutPrefix(name, "cmdstat_")
			if !ok || !isCmd {
				continue
			}
			var calls, usec int64
			for _, kv := range strings.Split(rest, ",") {
				k, v, _ := strings.Cut(kv, "=")
				n, _ := strconv.ParseInt(v, 10, 64)
				switch k {
				case "calls":
					calls = n
				case "usec":
					usec = n
				}
			}
			p := out.perCmd[name]
			out.perCmd[name] = [2]int64{p[0] + calls, p[1] + usec}
			if scriptCommands[name] {
				out.scriptUsec += usec
			}
			out.calls += calls
			out.usec += usec
		}
	}
	return out
}

// CommandCost is one Redis command's share per keystroke over the window.
type CommandCost struct {
	Command     string  `json:"command"`
	CallsPerKey float64 `json:"calls_per_keystroke"`
	UsecPerKey  float64 `json:"usec_per_keystroke"`
}

func topCommands(a, b redisCounters, keys float64) []CommandCost {
	var out []CommandCost
	for name, v1 := range b.perCmd {
		v0 := a.perCmd[name]
		if v1[0] == v0[0] {
			continue
		}
		out = append(out, CommandCost{Command: name, CallsPerKey: float64(v1[0]-v0[0]) / keys, UsecPerKey: float64(v1[1]-v0[1]) / keys})
	}
	slices.SortFunc(out, func(x, y CommandCost) int {
		switch {
		case x.UsecPerKey > y.UsecPerKey:
			return -1
		case x.UsecPerKey < y.UsecPerKey:
			return 1
		}
		return strings.Compare(x.Command, y.Command)
	})
	if len(out) > 8 {
		out = out[:8]
	}
	return out
}

// aofBytes is the size of every append-only file of this run's
// redis-servers (Redis 7 keeps them in appendonlydir), or -1 when there is
// none to read.
func (lg *loadgen) aofBytes() int64 {
	if !lg.cfg.AOF || len(lg.redis) == 0 {
		return -1
	}
	var total int64
	for _, rs := range lg.redis {
		_ = filepath.WalkDir(rs.dir, func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if !d.IsDir() && strings.Contains(d.Name(), "appendonly") {
				if fi, err := d.Info(); err == nil {
					total += fi.Size()
				}
			}
			return nil
		})
	}
	return total
}

// startProfiles starts the in-process profiles asked for and returns the
// function that writes them at the end of the window.
func (lg *loadgen) startProfiles() (func() error, error) {
	cfg := lg.cfg
	var prof *os.File
	if cfg.CPUProfile != "" {
		var err error
		if prof, err = os.Create(cfg.CPUProfile); err != nil {
			return nil, err
		}
		if err := pprof.StartCPUProfile(prof); err != nil {
			return nil, err
		}
	}
	if cfg.MutexProfile != "" {
		runtime.SetMutexProfileFraction(5)
	}
	if cfg.BlockProfile != "" {
		runtime.SetBlockProfileRate(int((10 * time.Microsecond).Nanoseconds()))
	}
	return func() error {
		if prof != nil {
			pprof.StopCPUProfile()
			if err := prof.Close(); err != nil {
				return err
			}
		}
		write := func(name, path string, gc bool) error {
			if path == "" {
				return nil
			}
			if gc {
				runtime.GC()
			}
			f, err := os.Create(path)
			if err != nil {
				return err
			}
			if err := pprof.Lookup(name).WriteTo(f, 0); err != nil {
				f.Close()
				return fmt.Errorf("writing the %s profile: %w", name, err)
			}
			return f.Close()
		}
		if err := write("mutex", cfg.MutexProfile, false); err != nil {
			return err
		}
		if err := write("block", cfg.BlockProfile, false); err != nil {
			return err
		}
		runtime.SetMutexProfileFraction(0)
		runtime.SetBlockProfileRate(0)
		return write("heap", cfg.MemProfile, true)
	}, nil
}

// GCUsage is what the Go garbage collector of the nodes did in the window.
type GCUsage struct {
	Cycles  uint32  `json:"cycles"`
	CPUMs   float64 `json:"gc_cpu_ms,omitempty"`
	STWMs   float64 `json:"stop_the_world_ms,omitempty"`
	PauseMs float64 `json:"pause_ms,omitempty"`
	HeapMB  string  `json:"heap_mb_last,omitempty"`
	Note    string  `json:"note,omitempty"`
}

func (g *GCUsage) String() string {
	return fmt.Sprintf("%d cycles, GC CPU %.0f ms (assist+background, idle excluded), stop-the-world %.1f ms, pauses %.1f ms, last heap %s MB; %s",
		g.Cycles, g.CPUMs, g.STWMs, g.PauseMs, g.HeapMB, g.Note)
}

// gcUsage reads the gctrace lines of the node logs ("gc N @T.TTTs P%:
// a+b+c ms clock, d+e/f/g+h ms cpu, H1->H2->H3 MB, ...") for the cycles
// that started inside the window.
func (lg *loadgen) gcUsage(start, end time.Time) *GCUsage {
	g := &GCUsage{Note: "from GODEBUG=gctrace=1 of every node"}
	for _, n := range lg.nodes {
		f, err := os.Open(n.log)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			fs := strings.Fields(sc.Text())
			if len(fs) < 10 || fs[0] != "gc" || !strings.HasPrefix(fs[2], "@") {
				continue
			}
			secs, err := strconv.ParseFloat(strings.TrimSuffix(fs[2][1:], "s"), 64)
			if err != nil {
				continue
			}
			at := n.started.Add(time.Duration(secs * float64(time.Second)))
			if at.Before(start) || !at.Before(end) {
				continue
			}
			g.Cycles++
			clock := splitNums(fs[4])
			if len(clock) == 3 {
				g.STWMs += clock[0] + clock[2]
			}
			cpu := splitNums(fs[7])
			if len(cpu) == 5 {
				g.CPUMs += cpu[0] + cpu[1] + cpu[2] + cpu[4]
			}
			g.HeapMB = fs[10]
		}
		f.Close()
	}
	return g
}

// splitNums reads "a+b/c/d+e" as numbers.
func splitNums(s string) []float64 {
	var out []float64
	for _, p := range strings.FieldsFunc(s, func(r rune) bool { return r == '+' || r == '/' }) {
		x, err := strconv.ParseFloat(p, 64)
		if err != nil {
			return nil
		}
		out = append(out, x)
	}
	return out
}

// NodeMem is where node 0's memory is, read from its profiles (the
// server's DEBUG_ADDR) at the end of the typing window.
type NodeMem struct {
	Sockets      int     `json:"sockets"`
	HeapLiveMiB  float64 `json:"heap_after_gc_mib"`
	HeapInuseMiB float64 `json:"heap_inuse_mib"`
	StackMiB     float64 `json:"stacks_mib"`
	SysMiB       float64 `json:"go_sys_mib"`
	Goroutines   int     `json:"goroutines"`
}

func (m *NodeMem) String() string {
	per := func(mib float64) float64 { return mib * 1024 / float64(max(1, m.Sockets)) }
	return fmt.Sprintf("heap after a GC %.0f MiB (%.1f KiB per socket), stacks %.0f MiB (%.1f KiB per socket) in %d goroutines, heap in use %.0f MiB, Go runtime total %.0f MiB",
		m.HeapLiveMiB, per(m.HeapLiveMiB), m.StackMiB, per(m.StackMiB), m.Goroutines, m.HeapInuseMiB, m.SysMiB)
}

// nodeHeap writes the heap profile of the node serving its profiles on
// addr to file (after a GC, which the profile asks for) and reads the
// runtime's figures right after it.
func nodeHeap(addr, file string, sockets int) (*NodeMem, error) {
	get := func(path string) ([]byte, error) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			return nil, fmt.Errorf("node profiles: %w", err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("node profiles: %s: %s", path, resp.Status)
		}
		return b, err
	}
	prof, err := get("/debug/pprof/heap?gc=1")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(file, prof, 0o644); err != nil {
		return nil, err
	}
	text, err := get("/debug/pprof/heap?debug=1")
	if err != nil {
		return nil, err
	}
	m := &NodeMem{Sockets: sockets}
	mib := func(v string) float64 {
		n, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
		return n / (1 << 20)
	}
	for _, line := range strings.Split(string(text), "\n") {
		k, v, ok := strings.Cut(strings.TrimPrefix(line, "# "), " = ")
		if !ok {
			continue
		}
		switch k {
		case "HeapAlloc":
			m.HeapLiveMiB = mib(v)
		case "HeapInuse":
			m.HeapInuseMiB = mib(v)
		case "Stack":
			inuse, _, _ := strings.Cut(v, " / ")
			m.StackMiB = mib(inuse)
		case "Sys":
			m.SysMiB = mib(v)
		}
	}
	g, err := get("/debug/pprof/goroutine?debug=1")
	if err != nil {
		return nil, err
	}
	first, _, _ := strings.Cut(string(g), "\n")
	_, n, _ := strings.Cut(first, "total ")
	m.Goroutines, _ = strconv.Atoi(strings.TrimSpace(n))
	return m, nil
}

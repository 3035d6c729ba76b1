package main

import (
	"bufio"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// window is the measured interval: the typing phase. Samples whose start
// lies outside it (connection set-up, the settling tail) are not counted.
type window struct {
	start, end atomic.Int64 // unix ns; end 0 while typing
}

func (w *window) in(t int64) bool {
	s, e := w.start.Load(), w.end.Load()
	return s != 0 && t >= s && (e == 0 || t < e)
}

// latencies of one client, in ns; merged after the run.
type latencies struct {
	w           *window
	ack         []int64 // push written → ack read (same socket)
	remote      []int64 // author's push written → update read by a client on another node
	typedRemote []int64 // keystroke → update read by a client on another node (includes waiting behind a push in flight)
	local       []int64 // author's push written → update read by a client on the same node
	typedAll    []int64 // keystroke → update read by any other socket of the room, either node
	slowAck     []int64 // push → ack of the clients behind the delay proxy
}

func (l *latencies) add(dst *[]int64, d, startedAt int64) {
	if l.w.in(startedAt) {
		*dst = append(*dst, d)
	}
}

// Dist summarises one latency distribution, in milliseconds.
type Dist struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50_ms"`
	P95 float64 `json:"p95_ms"`
	P99 float64 `json:"p99_ms"`
	Max float64 `json:"max_ms"`
}

func summarise(xs []int64) Dist {
	if len(xs) == 0 {
		return Dist{}
	}
	slices.Sort(xs)
	q := func(p float64) float64 {
		i := int(p*float64(len(xs))+0.5) - 1
		i = max(0, min(i, len(xs)-1))
		return ms(xs[i])
	}
	return Dist{N: len(xs), P50: q(0.50), P95: q(0.95), P99: q(0.99), Max: ms(xs[len(xs)-1])}
}

func ms(ns int64) float64 { return float64(ns) / 1e6 }

func (d Dist) String() string {
	if d.N == 0 {
		return "n=0"
	}
	return fmt.Sprintf("p50 %.2f  p95 %.2f  p99 %.2f  max %.2f ms  (n=%d)", d.P50, d.P95, d.P99, d.Max, d.N)
}

// Process CPU and memory from /proc.

// clkTck is USER_HZ, 100 on every Linux architecture Go supports.
const clkTck = 100

type procSample struct {
	cpu time.Duration // utime + stime
	rss int64         // KiB
	hwm int64         // peak RSS, KiB
}

func readProc(pid int) (procSample, error) {
	var s procSample
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	// Fields after the command name, which is in parentheses and may hold
	// spaces: state is field 3, utime 14, stime 15.
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b)[i+1:])
	if len(f) < 13 {
		return s, fmt.Errorf("short /proc/%d/stat", pid)
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	s.cpu = time.Duration(ut+st) * time.Second / clkTck
	fh, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			s.rss = n
		case "VmHWM":
			s.hwm = n
		}
	}
	return s, nil
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// machineCPU reads the busy and total jiffies of all CPUs from /proc/stat.
func machineCPU() (busy, total int64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	for i, x := range f[1:] {
		n, _ := strconv.ParseInt(x, 10, 64)
		total += n
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return busy, total
}

// ProcUsage is one process's use of the machine over the window.
type ProcUsage struct {
	Name    string  `json:"name"`
	PID     int     `json:"pid,omitempty"`
	CPUSec  float64 `json:"cpu_s"`
	CPUPct  float64 `json:"cpu_pct_of_one_core"`
	RSSMiB  float64 `json:"rss_mib,omitempty"`
	PeakMiB float64 `json:"peak_rss_mib,omitempty"`
}

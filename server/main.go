// Command server runs Repair Room: the HTTP API, the WebSocket rooms and the
// embedded web client, on Redis. With REDIS_URL or REDIS_CLUSTER_ADDRS it
// uses that Redis; with neither it starts its own redis-server (AOF in
// DATA_DIR), and only when no redis-server can be had does it fall back to
// an embedded in-memory store that loses every room when it stops.
// docs/operations.md lists every setting.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	log, err := newLogger(os.Stderr, os.Getenv("LOG_FORMAT"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(2)
	}
	if err := run(log, os.Getenv); err != nil {
		log.Error("server stopped", "err", err)
		os.Exit(1)
	}
}

// newLogger is slog's text handler, or its JSON handler with
// LOG_FORMAT=json (for log collectors).
func newLogger(w io.Writer, format string) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	switch strings.ToLower(format) {
	case "", "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("LOG_FORMAT %q must be text or json", format)
}

func run(log *slog.Logger, getenv func(string) string) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	srv, err := start(ctx, cfg, getenv, log)
	if err != nil {
		return err
	}
	// Bind first, so "listening" is only ever logged for a bound socket and
	// a port in use is an error before anything is announced.
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		srv.close()
		return fmt.Errorf("listening on %s: %w", cfg.Addr, err)
	}
	if cfg.DebugAddr != "" {
		stopDebug, err := serveDebug(cfg.DebugAddr, log)
		if err != nil {
			_ = ln.Close()
			srv.close()
			return err
		}
		defer stopDebug()
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.app.Listener(ln) }()
	log.Info("Repair Room is listening", "addr", ln.Addr().String(), "url", startURL(cfg.Addr, ln.Addr()))

	select {
	case err := <-errc:
		srv.close()
		return fmt.Errorf("serving on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	log.Info("shutting down: draining sockets")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownWait)
	defer cancel()
	err = srv.shutdown(sctx)
	log.Info("shut down", "err", err)
	return nil
}

// startURL is the address a person opens: the configured HOST (localhost
// when it binds every interface) and the port actually bound (PORT=0 picks
// one).
func startURL(configured string, bound net.Addr) string {
	host, _, _ := net.SplitHostPort(configured)
	port := "8080"
	if ta, ok := bound.(*net.TCPAddr); ok {
		port = fmt.Sprint(ta.Port)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port) + "/"
}

// serveDebug serves Go's profiles (net/http/pprof) on addr, a loopback
// address (loadConfig checks), on a mux of its own so nothing of them is
// reachable through the public listener. It returns the function that
// stops it.
func serveDebug(addr string, log *slog.Logger) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("DEBUG_ADDR: listening on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	log.Info("profiles served (DEBUG_ADDR)", "addr", ln.Addr().String())
	return func() { _ = hs.Close() }, nil
}

// Command server runs Repair Room: the HTTP API, the WebSocket rooms and the
// embedded web client, on Redis (REDIS_URL, REDIS_CLUSTER_ADDRS) or, when
// neither is set, on an embedded in-memory Redis-compatible store.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if err := run(log, os.Getenv); err != nil {
		log.Error("server stopped", "err", err)
		os.Exit(1)
	}
}

func run(log *slog.Logger, getenv func(string) string) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	srv, err := start(ctx, cfg, log)
	if err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.app.Listen(cfg.Addr) }()
	log.Info("Repair Room is listening", "addr", cfg.Addr, "url", fmt.Sprintf("http://localhost%s", cfg.Addr))

	select {
	case err := <-errc:
		srv.close()
		return fmt.Errorf("listening on %s: %w", cfg.Addr, err)
	case <-ctx.Done():
	}
	log.Info("shutting down: draining sockets")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownWait)
	defer cancel()
	err = srv.shutdown(sctx)
	log.Info("shut down", "err", err)
	return nil
}

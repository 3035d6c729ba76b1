package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/alicebob/miniredis/v2"
	"github.com/gofiber/fiber/v2"
	"github.com/redis/go-redis/v9"

	"repairroom/internal/auth"
	"repairroom/internal/checkpoint"
	"repairroom/internal/httpapi"
	"repairroom/internal/metrics"
	"repairroom/internal/practice"
	"repairroom/internal/realtime"
	"repairroom/internal/store"
	"repairroom/internal/templates"
	"repairroom/web"
)

// defaultPoolSize is the Redis connections per node unless REDIS_URL says
// otherwise (?pool_size=N). Every socket's reader waits on Redis for each
// push, so go-redis's default (10 per CPU) queues pushes under load: in
// bench/ one node with 1200 sockets collapsed with 20 and held with 200.
const defaultPoolSize = 200

// server is everything one node runs.
type server struct {
	app      *fiber.App
	hub      *realtime.Hub
	rdb      redis.UniversalClient
	embedded *miniredis.Miniredis
	child    *redisChild // the zero-config start's own redis-server
	log      *slog.Logger
}

func start(ctx context.Context, cfg config, getenv func(string) string, log *slog.Logger) (*server, error) {
	tpls, err := templates.Builtin()
	if err != nil {
		return nil, fmt.Errorf("loading templates: %w", err)
	}
	secret := cfg.Secret
	if secret == nil {
		if secret, err = auth.RandomKey(); err != nil {
			return nil, err
		}
		log.Warn("SECRET is not set: using a random key, so every invite link stops working when the server restarts, and nodes cannot share links. Set SECRET to 64 hex digits.")
	}
	signer, err := auth.NewSigner(secret)
	if err != nil {
		return nil, err
	}

	s := &server{log: log}
	// Every deployment ends up behind the same UniversalClient interface,
	// so the store has one code path for all three.
	switch {
	case len(cfg.ClusterAddrs) > 0:
		s.rdb = redis.NewUniversalClient(&redis.UniversalOptions{Addrs: cfg.ClusterAddrs, IsClusterMode: true, PoolSize: defaultPoolSize})
	case cfg.RedisURL != "":
		ro, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			return nil, fmt.Errorf("REDIS_URL is not a redis:// or unix:// URL: %w", err)
		}
		if ro.PoolSize == 0 {
			ro.PoolSize = defaultPoolSize
		}
		s.rdb = redis.NewClient(ro)
	default:
		if err := s.startOwnStore(ctx, cfg, getenv("REDIS_SERVER")); err != nil {
			return nil, err
		}
	}
	met := metrics.New()
	s.rdb.AddHook(met.RedisHook())
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		s.close()
		return nil, fmt.Errorf("connecting to Redis: %w", err)
	}
	sopt := store.DefaultOptions()
	sopt.TTL = cfg.Limits.RoomTTL
	sopt.Limits = cfg.Limits
	sopt.Sharded = len(cfg.ClusterAddrs) > 0
	st := store.New(s.rdb, sopt)
	rcfg := realtime.DefaultConfig()
	rcfg.Limits = cfg.Limits
	rcfg.Observer = met
	// Checkpoints are signed with the same SECRET as invite links (under a
	// derived key), so every node verifies what any node signed.
	if rcfg.Checkpoints, err = checkpoint.New(secret); err != nil {
		return nil, err
	}
	s.hub = realtime.New(st, log, rcfg, nil)
	s.app = httpapi.New(httpapi.Deps{
		Store: st, Hub: s.hub, Templates: tpls, Signer: signer, Log: log, Web: web.Dist(),
		AllowedOrigins: cfg.AllowedOrigins, TrustedProxies: cfg.TrustedProxies,
		Limits: cfg.Limits, Metrics: met.Handler(), Counters: met,
		Practice: practice.New(s.rdb, practice.Options{}),
	})
	return s, nil
}

// startOwnStore is the zero-config start: a child redis-server keeping its
// AOF in DATA_DIR, or, only when there is no redis-server binary, the
// embedded in-memory store with a loud warning.
func (s *server) startOwnStore(ctx context.Context, cfg config, redisServer string) error {
	bin, err := findRedisServer(redisServer)
	if err == nil {
		if s.child, err = startRedisChild(ctx, bin, cfg.DataDir, s.log); err != nil {
			return fmt.Errorf("zero-config start (set REDIS_URL to use another Redis): %w", err)
		}
		s.rdb = redis.NewClient(s.child.options(defaultPoolSize))
		return nil
	}
	s.embedded = miniredis.NewMiniRedis()
	if err := s.embedded.Start(); err != nil {
		return fmt.Errorf("starting the embedded store: %w", err)
	}
	s.rdb = redis.NewClient(&redis.Options{Addr: s.embedded.Addr(), PoolSize: defaultPoolSize})
	s.log.Warn("REDIS_URL is not set and no redis-server was found: using an EMBEDDED IN-MEMORY store. Every room is lost when this process stops, and only this one node can serve them. Install redis-server (scripts/install-deps) or set REDIS_URL.")
	return nil
}

func (s *server) shutdown(ctx context.Context) error {
	err := httpapi.Shutdown(ctx, s.app, s.hub)
	s.close()
	return err
}

func (s *server) close() {
	if s.rdb != nil {
		_ = s.rdb.Close() // shutting down: nothing left to do with an error
	}
	if s.embedded != nil {
		s.embedded.Close()
	}
	if s.child != nil {
		s.child.stop(s.log)
	}
}

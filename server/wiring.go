package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/alicebob/miniredis/v2"
	"github.com/gofiber/fiber/v2"
	"github.com/redis/go-redis/v9"

	"repairroom/internal/auth"
	"repairroom/internal/httpapi"
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
}

func start(ctx context.Context, cfg config, log *slog.Logger) (*server, error) {
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

	s := &server{}
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
		s.embedded = miniredis.NewMiniRedis()
		if err := s.embedded.Start(); err != nil {
			return nil, fmt.Errorf("starting the embedded store: %w", err)
		}
		s.rdb = redis.NewClient(&redis.Options{Addr: s.embedded.Addr(), PoolSize: defaultPoolSize})
		log.Warn("REDIS_URL is not set: using an EMBEDDED IN-MEMORY store. Every room is lost when this process stops, and only this one node can serve them. Set REDIS_URL for real use.")
	}
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		s.close()
		return nil, fmt.Errorf("connecting to Redis: %w", err)
	}
	sopt := store.DefaultOptions()
	sopt.TTL = cfg.RoomTTL
	sopt.Sharded = len(cfg.ClusterAddrs) > 0
	st := store.New(s.rdb, sopt)
	s.hub = realtime.New(st, log, realtime.DefaultConfig(), nil)
	s.app = httpapi.New(httpapi.Deps{
		Store: st, Hub: s.hub, Templates: tpls, Signer: signer, Log: log, Web: web.Dist(),
		AllowedOrigins: cfg.AllowedOrigins, TrustedProxies: cfg.TrustedProxies, TokenTTL: cfg.RoomTTL,
	})
	return s, nil
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
}

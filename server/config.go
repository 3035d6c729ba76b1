package main

import (
	"encoding/hex"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// config is read once, here, from the environment.
type config struct {
	Addr           string
	RedisURL       string
	ClusterAddrs   []string
	Secret         []byte // nil: generate one and warn
	AllowedOrigins []string
	TrustedProxies []string
	RoomTTL        time.Duration
	ShutdownWait   time.Duration
}

func loadConfig(getenv func(string) string) (config, error) {
	c := config{
		Addr:         ":8080",
		RedisURL:     getenv("REDIS_URL"),
		RoomTTL:      30 * 24 * time.Hour,
		ShutdownWait: 15 * time.Second,
	}
	if p := getenv("PORT"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 65535 {
			return c, fmt.Errorf("PORT %q is not a port number", p)
		}
		c.Addr = ":" + p
	}
	if h := getenv("HOST"); h != "" {
		c.Addr = net.JoinHostPort(h, strings.TrimPrefix(c.Addr, ":"))
	}
	if s := getenv("REDIS_CLUSTER_ADDRS"); s != "" {
		c.ClusterAddrs = splitList(s)
	}
	if s := getenv("SECRET"); s != "" {
		if b, err := hex.DecodeString(s); err == nil && len(b) >= 32 {
			c.Secret = b
		} else if len(s) >= 32 {
			c.Secret = []byte(s)
		} else {
			return c, fmt.Errorf("SECRET must be at least 32 characters (or 64 hex digits)")
		}
	}
	if s := getenv("ALLOWED_ORIGINS"); s != "" {
		c.AllowedOrigins = splitList(s)
	}
	if s := getenv("TRUSTED_PROXIES"); s != "" {
		c.TrustedProxies = splitList(s)
	}
	if s := getenv("ROOM_TTL"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < time.Hour {
			return c, fmt.Errorf("ROOM_TTL %q must be a duration of at least 1h (e.g. 720h)", s)
		}
		c.RoomTTL = d
	}
	return c, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

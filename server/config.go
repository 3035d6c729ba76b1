package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode"

	"repairroom/internal/limits"
)

// config is read once, here, from the environment, and validated before
// anything starts: a value the server would misread is refused with a
// message that names the variable.
type config struct {
	Addr           string
	RedisURL       string
	ClusterAddrs   []string
	Secret         []byte   // nil: generate one and warn
	AllowedOrigins []string // normalised scheme://host[:port]; empty: same-origin
	TrustedProxies []string // IPs and CIDR prefixes
	Limits         limits.Limits
	ShutdownWait   time.Duration
	// LogFormat is "text" (default) or "json".
	LogFormat string
	// DataDir holds the child redis-server's files on the zero-config start.
	DataDir string
	// DebugAddr, when set, serves Go's profiles (/debug/pprof/) on this
	// loopback address: for measuring a node, never for the public.
	DebugAddr string
}

// limitEnvPrefix starts the name of every limit's variable: the field
// MaxMessageBytes of limits.Limits is LIMIT_MAX_MESSAGE_BYTES, RoomTTL is
// LIMIT_ROOM_TTL. The names are derived from the struct, so a limit added
// there is configurable without touching this file.
const limitEnvPrefix = "LIMIT_"

func loadConfig(getenv func(string) string) (config, error) {
	c := config{
		Addr:         ":8080",
		RedisURL:     getenv("REDIS_URL"),
		ShutdownWait: 15 * time.Second,
		LogFormat:    "text",
		DataDir:      "data",
	}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	port := "8080"
	if p := getenv("PORT"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 65535 {
			bad("PORT %q is not a port number (0 to 65535)", p)
		}
		port = p
	}
	c.Addr = net.JoinHostPort(getenv("HOST"), port)
	if s := getenv("REDIS_CLUSTER_ADDRS"); s != "" {
		c.ClusterAddrs = splitList(s)
	}
	if s := getenv("SECRET"); s != "" {
		if b, err := hex.DecodeString(s); err == nil && len(b) >= 32 {
			c.Secret = b
		} else if len(s) >= 32 {
			c.Secret = []byte(s)
		} else {
			bad("SECRET must be at least 32 characters (or 64 hex digits)")
		}
	}
	for _, o := range splitList(getenv("ALLOWED_ORIGINS")) {
		n, err := normalizeOrigin(o)
		if err != nil {
			bad("ALLOWED_ORIGINS: %w", err)
			continue
		}
		c.AllowedOrigins = append(c.AllowedOrigins, n)
	}
	for _, p := range splitList(getenv("TRUSTED_PROXIES")) {
		if _, err := netip.ParsePrefix(p); err == nil {
			c.TrustedProxies = append(c.TrustedProxies, p)
			continue
		}
		if _, err := netip.ParseAddr(p); err == nil {
			c.TrustedProxies = append(c.TrustedProxies, p)
			continue
		}
		bad("TRUSTED_PROXIES: %q is neither an IP address nor a CIDR prefix like 10.0.0.0/8", p)
	}
	switch f := strings.ToLower(getenv("LOG_FORMAT")); f {
	case "", "text":
	case "json":
		c.LogFormat = "json"
	default:
		bad("LOG_FORMAT %q must be text or json", f)
	}
	if d := getenv("DATA_DIR"); d != "" {
		c.DataDir = d
	}
	if a := getenv("DEBUG_ADDR"); a != "" {
		host, _, err := net.SplitHostPort(a)
		ip := net.ParseIP(host)
		if err != nil || !(host == "localhost" || ip != nil && ip.IsLoopback()) {
			bad("DEBUG_ADDR %q must be a loopback address with a port (e.g. 127.0.0.1:6060): profiles show what the node holds", a)
		}
		c.DebugAddr = a
	}
	if s := getenv("SHUTDOWN_WAIT"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			bad("SHUTDOWN_WAIT %q must be a positive duration (e.g. 15s)", s)
		}
		c.ShutdownWait = d
	}

	l, lerrs := loadLimits(getenv)
	errs = append(errs, lerrs...)
	// ROOM_TTL predates the LIMIT_ names and stays as their alias.
	if s := getenv("ROOM_TTL"); s != "" && getenv(limitEnvPrefix+"ROOM_TTL") == "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			bad("ROOM_TTL %q is not a duration (e.g. 720h)", s)
		}
		l.RoomTTL = d
	}
	if l.RoomTTL != 0 && l.RoomTTL < time.Hour {
		bad("ROOM_TTL (LIMIT_ROOM_TTL) %s must be at least 1h (e.g. 720h)", l.RoomTTL)
	}
	c.Limits = l.WithDefaults()
	if err := c.Limits.Validate(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("configuration: %w", errors.Join(errs...))
	}
	return c, nil
}

// normalizeOrigin turns an allowed origin into the scheme://host[:port]
// form originAllowed compares with, refusing what a browser never sends as
// an Origin (a path, user-info, another scheme).
func normalizeOrigin(o string) (string, error) {
	if o == "*" {
		return o, nil
	}
	u, err := url.Parse(o)
	switch {
	case err != nil:
		return "", fmt.Errorf("%q is not a URL: %w", o, err)
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("%q must start with http:// or https://", o)
	case u.Host == "" || u.Hostname() == "":
		return "", fmt.Errorf("%q has no host name", o)
	case u.User != nil:
		return "", fmt.Errorf("%q must not carry a user name", o)
	case u.Path != "" && u.Path != "/", u.RawQuery != "", u.Fragment != "":
		return "", fmt.Errorf("%q must be only scheme://host[:port], without a path", o)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("%q has a bad port", o)
		}
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), nil
}

// limitEnv pairs each field of limits.Limits with its variable name.
type limitEnv struct {
	Name  string
	Field string
}

// limitEnvs lists every limit's variable, in the struct's order.
func limitEnvs() []limitEnv {
	t := reflect.TypeOf(limits.Limits{})
	out := make([]limitEnv, 0, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.IsExported() {
			out = append(out, limitEnv{Name: limitEnvPrefix + envName(f.Name), Field: f.Name})
		}
	}
	return out
}

// envName turns a Go field name into an environment name:
// RoomsPerAddrPerMinute → ROOMS_PER_ADDR_PER_MINUTE, RoomTTL → ROOM_TTL.
func envName(field string) string {
	r := []rune(field)
	var b strings.Builder
	for i, c := range r {
		if i > 0 && unicode.IsUpper(c) {
			prevLower := unicode.IsLower(r[i-1]) || unicode.IsDigit(r[i-1])
			nextLower := i+1 < len(r) && unicode.IsLower(r[i+1])
			if prevLower || (unicode.IsUpper(r[i-1]) && nextLower) {
				b.WriteByte('_')
			}
		}
		b.WriteRune(unicode.ToUpper(c))
	}
	return b.String()
}

// loadLimits reads every LIMIT_ variable that is set; unset ones keep
// their zero value, which WithDefaults fills in.
func loadLimits(getenv func(string) string) (limits.Limits, []error) {
	var l limits.Limits
	var errs []error
	v := reflect.ValueOf(&l).Elem()
	for _, e := range limitEnvs() {
		s := getenv(e.Name)
		if s == "" {
			continue
		}
		f := v.FieldByName(e.Field)
		switch {
		case f.Type() == reflect.TypeOf(time.Duration(0)):
			d, err := time.ParseDuration(s)
			if err != nil || d <= 0 {
				errs = append(errs, fmt.Errorf("%s %q must be a positive duration (e.g. 250ms, 720h)", e.Name, s))
				continue
			}
			f.SetInt(int64(d))
		case f.CanInt():
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil || n <= 0 || f.OverflowInt(n) {
				errs = append(errs, fmt.Errorf("%s %q must be a positive whole number", e.Name, s))
				continue
			}
			f.SetInt(n)
		case f.CanFloat():
			x, err := strconv.ParseFloat(s, 64)
			if err != nil || x <= 0 {
				errs = append(errs, fmt.Errorf("%s %q must be a positive number", e.Name, s))
				continue
			}
			f.SetFloat(x)
		default:
			errs = append(errs, fmt.Errorf("%s: the server cannot read a %s from the environment", e.Name, f.Type()))
		}
	}
	return l, errs
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

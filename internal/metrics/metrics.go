// Package metrics turns what the server does into Prometheus metrics: it
// implements realtime.Observer (sockets, pushes, limit refusals,
// subscriptions), httpapi.Counters (rooms created and deleted) and a go-redis
// hook (latency and errors of every Redis command), and serves them in the
// Prometheus text format. docs/operations.md lists every metric.
package metrics

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"repairroom/internal/protocol"
)

// Metrics holds one node's metrics in its own registry (no globals: two
// nodes in one test process do not share counters). Every method is safe
// for concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	sockets       prometheus.Gauge
	socketsClosed *prometheus.CounterVec
	pushes        *prometheus.CounterVec
	pushSeconds   *prometheus.HistogramVec
	refused       *prometheus.CounterVec
	subConns      prometheus.Gauge
	subChannels   prometheus.Gauge
	roomsCreated  prometheus.Counter
	roomsDeleted  prometheus.Counter
	redisSeconds  *prometheus.HistogramVec
	redisErrors   *prometheus.CounterVec
}

// New registers every metric, with the Go runtime and process collectors.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.sockets = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "repairroom_sockets", Help: "WebSocket connections joined to a room on this node.",
	})
	m.socketsClosed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "repairroom_sockets_closed_total",
		Help: "Sockets closed, by close code and its name (slow_consumer, flood, ... are limit closes).",
	}, []string{"code", "reason"})
	m.pushes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "repairroom_pushes_total", Help: "Pushes answered, by outcome (ok: acked, behind or reset; refused; error).",
	}, []string{"outcome"})
	m.pushSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "repairroom_push_ack_seconds",
		Help:    "Time from reading a push off the socket to queueing its answer, by outcome.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	}, []string{"outcome"})
	m.refused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "repairroom_limit_refusals_total", Help: "Requests refused by a limit, by limit name.",
	}, []string{"limit"})
	m.subConns = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "repairroom_pubsub_connections", Help: "Redis pub/sub connections this node holds.",
	})
	m.subChannels = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "repairroom_pubsub_channels", Help: "Redis channels (rooms) this node is subscribed to.",
	})
	m.roomsCreated = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "repairroom_rooms_created_total", Help: "Rooms created through this node.",
	})
	m.roomsDeleted = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "repairroom_rooms_deleted_total", Help: "Rooms deleted through this node.",
	})
	m.redisSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "repairroom_redis_seconds",
		Help:    "Latency of Redis commands and pipelines, by command (pipeline for pipelines).",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
	}, []string{"cmd"})
	m.redisErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "repairroom_redis_errors_total", Help: "Redis commands that failed (a nil reply is not a failure), by command.",
	}, []string{"cmd"})
	m.reg.MustRegister(
		m.sockets, m.socketsClosed, m.pushes, m.pushSeconds, m.refused,
		m.subConns, m.subChannels, m.roomsCreated, m.roomsDeleted,
		m.redisSeconds, m.redisErrors,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Registry is where the metrics live, for tests and extra collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// PushDone implements realtime.Observer.
func (m *Metrics) PushDone(outcome string, d time.Duration) {
	m.pushes.WithLabelValues(outcome).Inc()
	m.pushSeconds.WithLabelValues(outcome).Observe(d.Seconds())
}

// SocketOpened implements realtime.Observer.
func (m *Metrics) SocketOpened() { m.sockets.Inc() }

// SocketClosed implements realtime.Observer.
func (m *Metrics) SocketClosed(code int) {
	m.sockets.Dec()
	m.socketsClosed.WithLabelValues(strconv.Itoa(code), protocol.CloseName(code)).Inc()
}

// Refused implements realtime.Observer and httpapi.Counters.
func (m *Metrics) Refused(limit string) { m.refused.WithLabelValues(limit).Inc() }

// Subscriptions implements realtime.Observer.
func (m *Metrics) Subscriptions(conns, channels int) {
	m.subConns.Set(float64(conns))
	m.subChannels.Set(float64(channels))
}

// RoomCreated implements httpapi.Counters.
func (m *Metrics) RoomCreated() { m.roomsCreated.Inc() }

// RoomDeleted implements httpapi.Counters.
func (m *Metrics) RoomDeleted() { m.roomsDeleted.Inc() }

// RedisHook returns a go-redis hook that times every command and counts
// its errors; add it with AddHook on the client the store uses.
func (m *Metrics) RedisHook() redis.Hook { return redisHook{m} }

type redisHook struct{ m *Metrics }

func (h redisHook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := next(ctx, network, addr)
		if err != nil {
			h.m.redisErrors.WithLabelValues("dial").Inc()
		}
		return c, err
	}
}

func (h redisHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmd)
		h.observe(cmd.Name(), start, err)
		return err
	}
}

func (h redisHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmds)
		h.observe("pipeline", start, err)
		return err
	}
}

// knownCmds bounds the cmd label: a command outside this set is counted as
// "other", so a label never grows without limit.
var knownCmds = map[string]bool{
	"get": true, "set": true, "del": true, "exists": true, "expire": true, "pexpire": true,
	"hget": true, "hset": true, "hgetall": true, "hmget": true, "hdel": true,
	"mget": true, "lrange": true, "xadd": true, "xrange": true, "xrevrange": true,
	"zadd": true, "zrange": true, "zrem": true, "zrangebyscore": true,
	"evalsha": true, "eval": true, "script": true, "ping": true,
	"publish": true, "spublish": true, "subscribe": true, "ssubscribe": true,
	"unsubscribe": true, "sunsubscribe": true, "pipeline": true, "info": true, "scan": true,
}

func (h redisHook) observe(name string, start time.Time, err error) {
	if !knownCmds[name] {
		name = "other"
	}
	h.m.redisSeconds.WithLabelValues(name).Observe(time.Since(start).Seconds())
	if err != nil && !errors.Is(err, redis.Nil) {
		h.m.redisErrors.WithLabelValues(name).Inc()
	}
}

package metrics

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/redis/go-redis/v9"

	"repairroom/internal/realtime"
)

// The interfaces the server wires Metrics into.
var _ realtime.Observer = (*Metrics)(nil)

// Scrape fetches h's metrics and parses them with the Prometheus text
// parser, as a Prometheus server would.
func Scrape(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return fams
}

// value is the counter, gauge or histogram count of the sample of fam whose
// labels include want.
func value(fams map[string]*dto.MetricFamily, fam string, want map[string]string) (float64, bool) {
	f, ok := fams[fam]
	if !ok {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

func TestObserverEventsAreScraped(t *testing.T) {
	m := New()
	m.SocketOpened()
	m.SocketOpened()
	m.SocketClosed(4008)
	m.PushDone("ok", 2*time.Millisecond)
	m.PushDone("ok", 3*time.Millisecond)
	m.PushDone("behind", time.Millisecond)
	m.Refused("sockets_per_seat")
	m.Subscriptions(1, 42)
	m.RoomCreated()
	m.RoomDeleted()

	fams := Scrape(t, m.Handler())
	cases := []struct {
		fam    string
		labels map[string]string
		want   float64
	}{
		{"repairroom_sockets", nil, 1},
		{"repairroom_sockets_closed_total", map[string]string{"code": "4008", "reason": "slow_consumer"}, 1},
		{"repairroom_pushes_total", map[string]string{"outcome": "ok"}, 2},
		{"repairroom_pushes_total", map[string]string{"outcome": "behind"}, 1},
		{"repairroom_push_ack_seconds", map[string]string{"outcome": "ok"}, 2},
		{"repairroom_limit_refusals_total", map[string]string{"limit": "sockets_per_seat"}, 1},
		{"repairroom_pubsub_connections", nil, 1},
		{"repairroom_pubsub_channels", nil, 42},
		{"repairroom_rooms_created_total", nil, 1},
		{"repairroom_rooms_deleted_total", nil, 1},
	}
	for _, c := range cases {
		got, ok := value(fams, c.fam, c.labels)
		if !ok || got != c.want {
			t.Errorf("%s%v = %v (found %t), want %v", c.fam, c.labels, got, ok, c.want)
		}
	}
	if _, ok := fams["go_goroutines"]; !ok {
		t.Error("the Go runtime collector is missing")
	}
}

// The hook times commands and counts failures, but a nil reply (a missing
// key) is not a failure, and unknown commands share one label.
func TestRedisHook(t *testing.T) {
	m := New()
	h := m.RedisHook()
	run := func(cmd redis.Cmder, err error) {
		_ = h.ProcessHook(func(context.Context, redis.Cmder) error { return err })(context.Background(), cmd)
	}
	ctx := context.Background()
	run(redis.NewStringCmd(ctx, "get", "k"), nil)
	run(redis.NewStringCmd(ctx, "get", "k"), redis.Nil)
	run(redis.NewStringCmd(ctx, "get", "k"), errors.New("connection refused"))
	run(redis.NewCmd(ctx, "frobnicate"), errors.New("unknown command"))
	_ = h.ProcessPipelineHook(func(context.Context, []redis.Cmder) error { return nil })(ctx, nil)

	fams := Scrape(t, m.Handler())
	cases := []struct {
		fam, cmd string
		want     float64
	}{
		{"repairroom_redis_seconds", "get", 3},
		{"repairroom_redis_errors_total", "get", 1},
		{"repairroom_redis_errors_total", "other", 1},
		{"repairroom_redis_seconds", "pipeline", 1},
	}
	for _, c := range cases {
		if got, _ := value(fams, c.fam, map[string]string{"cmd": c.cmd}); got != c.want {
			t.Errorf("%s{cmd=%s} = %v, want %v", c.fam, c.cmd, got, c.want)
		}
	}
}

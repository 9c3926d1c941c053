package main

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/smalruby/meshd/broker"
	"github.com/smalruby/meshd/broker/bus"
	"github.com/smalruby/meshd/gql"
	"github.com/smalruby/meshd/store"
)

// metrics holds meshd's Prometheus collectors. Gauges and counters of state are read from the
// broker, the bus and the API when scraped; histograms are fed by their hooks.
type metrics struct {
	reg        *prometheus.Registry
	responses  *prometheus.CounterVec
	operations *prometheus.CounterVec
	opDuration *prometheus.HistogramVec
	commitDur  prometheus.Histogram
	commitErrs prometheus.Counter
	commitOps  prometheus.Counter
	lastFailed prometheus.Gauge
	lastErrAt  prometheus.Gauge
	delivery   prometheus.Histogram

	socketsOpened prometheus.Counter
	socketsClosed *prometheus.CounterVec
	authFailures  *prometheus.CounterVec
}

// latencyBuckets are the buckets of every latency histogram: 50 µs to 105 s, doubling, so that
// a saturated server (requests of up to the 30 s request timeout, deliveries seconds late)
// shows in them rather than in +Inf.
var latencyBuckets = prometheus.ExponentialBuckets(50e-6, 2, 22)

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		socketsOpened: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "meshd_realtime_sockets_opened_total",
			Help: "Realtime WebSockets opened (upgraded), probes included.",
		}),
		socketsClosed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshd_realtime_sockets_closed_total",
			Help: "Realtime WebSockets closed, by the close code sent or received (1006: the connection was lost; 1013: a slow consumer; 44xx: graphql-transport-ws refusals).",
		}, []string{"code"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshd_auth_failures_total",
			Help: "Requests, sockets and subscriptions refused for their API key, by transport (http or realtime).",
		}, []string{"transport"}),
		responses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshd_http_responses_total",
			Help: "HTTP responses of the main listener by status code (101 for a WebSocket upgrade).",
		}, []string{"code"}),
		operations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshd_graphql_operations_total",
			Help: "Queries and mutations served, by root field and outcome (ok or the errorType).",
		}, []string{"operation", "outcome"}),
		opDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "meshd_graphql_operation_duration_seconds",
			Help:    "Time to resolve a query or mutation, by root field.",
			Buckets: latencyBuckets,
		}, []string{"operation"}),
		commitDur: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "meshd_store_commit_duration_seconds",
			Help:    "Time to make one batch of control-plane changes durable.",
			Buckets: latencyBuckets,
		}),
		commitErrs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "meshd_store_commit_errors_total",
			Help: "Store commits that failed.",
		}),
		commitOps: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "meshd_store_committed_ops_total",
			Help: "Changes written to the store.",
		}),
		lastFailed: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "meshd_store_last_commit_failed",
			Help: "1 while the latest store commit failed, 0 once one succeeds.",
		}),
		lastErrAt: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "meshd_store_last_commit_error_timestamp_seconds",
			Help: "When a store commit last failed, in seconds since the Unix epoch; 0 if none has.",
		}),
		delivery: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "meshd_delivery_latency_seconds",
			Help:    "Time from a message's publication to its frame being written to a subscriber.",
			Buckets: latencyBuckets,
		}),
	}
	bi := readBuildInfo()
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "meshd_build_info",
		Help:        "Always 1; its labels say which build of meshd runs.",
		ConstLabels: prometheus.Labels{"version": bi.Version, "revision": bi.Revision, "goversion": bi.Go},
	})
	build.Set(1)
	m.reg.MustRegister(build, m.socketsOpened, m.socketsClosed, m.authFailures, m.responses, m.operations, m.opDuration, m.commitDur, m.commitErrs, m.commitOps, m.lastFailed, m.lastErrAt, m.delivery,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// observeOperation is gql's OnOperation hook.
func (m *metrics) observeOperation(operation, outcome string, d time.Duration) {
	m.operations.WithLabelValues(operation, outcome).Inc()
	m.opDuration.WithLabelValues(operation).Observe(d.Seconds())
}

// observeSocketClose is the realtime endpoints' OnSocketClose hook.
func (m *metrics) observeSocketClose(code int) {
	m.socketsClosed.WithLabelValues(strconv.Itoa(code)).Inc()
}

// observeDelivery is the realtime endpoints' OnDelivery hook.
func (m *metrics) observeDelivery(d time.Duration) { m.delivery.Observe(d.Seconds()) }

// observeCommit is the broker's OnCommit hook.
func (m *metrics) observeCommit(d time.Duration, ops int, err error) {
	m.commitDur.Observe(d.Seconds())
	if err != nil {
		m.commitErrs.Inc()
		m.lastFailed.Set(1)
		m.lastErrAt.SetToCurrentTime()
		return
	}
	m.lastFailed.Set(0)
	m.commitOps.Add(float64(ops))
}

// watch registers the collectors that read live state when scraped.
func (m *metrics) watch(b broker.Service, bs *bus.Bus, api *gql.Server) {
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	counter := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f)
	}
	m.reg.MustRegister(
		gauge("meshd_groups", "Groups in memory.", func() float64 { return float64(b.Stats().Groups) }),
		gauge("meshd_members", "Group memberships in memory.", func() float64 { return float64(b.Stats().Members) }),
		gauge("meshd_node_statuses", "Node statuses in memory.", func() float64 { return float64(b.Stats().Statuses) }),
		counter("meshd_messages_published_total", "Messages published to groups.", func() float64 { return float64(b.Stats().Published) }),
		counter("meshd_groups_created_total", "Groups created.", func() float64 { return float64(b.Stats().GroupsCreated) }),
		counter("meshd_groups_dissolved_total", "Groups their host dissolved.", func() float64 { return float64(b.Stats().GroupsDissolved) }),
		counter("meshd_groups_expired_total", "Groups removed because their lifetime or their host's heartbeat ran out.", func() float64 { return float64(b.Stats().GroupsExpired) }),
		counter("meshd_bus_dropped_messages_total", "Messages the bus dropped because a group's delivery fell behind.", func() float64 { return float64(bs.Dropped()) }),
		gauge("meshd_realtime_connections", "Open realtime WebSockets.", func() float64 { return float64(api.RealtimeStats().Connections) }),
		gauge("meshd_realtime_subscriptions", "Live subscriptions.", func() float64 { return float64(api.RealtimeStats().Subscriptions) }),
		gauge("meshd_realtime_executions", "Running subscription executions, each shared by every subscriber of one document and variables.", func() float64 { return float64(api.RealtimeStats().Executions) }),
		counter("meshd_messages_delivered_total", "Message frames written to subscribers.", func() float64 { return float64(api.RealtimeStats().FramesSent) }),
		counter("meshd_slow_consumer_disconnects_total", "WebSockets closed because their reader fell too far behind.", func() float64 { return float64(api.RealtimeStats().SlowConsumers) }),
		counter("meshd_panics_recovered_total", "Panics recovered while answering a request (each answered InternalError; logged at most once per 10 s, without a stack).", func() float64 { return float64(api.Panics()) }),
		counter("meshd_lagged_subscriptions_total", "Subscription executions ended with an error because they fell too far behind their group.", func() float64 { return float64(api.RealtimeStats().LaggedExecutions) }),
	)
}

// watchStore registers the size of a bbolt state file.
func (m *metrics) watchStore(st store.Store) {
	if f, ok := st.(*store.Bolt); ok {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "meshd_store_file_bytes",
			Help: "Size of the state file.",
		}, func() float64 { return float64(f.Size()) }))
	}
}

// reapedHelp is the help of meshd_connections_reaped_total, the same for each state.
const reapedHelp = "Connections closed to make room for a new one while the budget was spent, by state: idle (a keep-alive between requests, or nothing sent yet) or busy (the oldest request in progress of the address holding the most)."

// watchBudget registers the connection budget's gauge and counters.
func (m *metrics) watchBudget(b *connBudget) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "meshd_connections_open",
			Help: "Connections open on every listener (API, console, metrics, pprof), all drawn from one budget.",
		}, func() float64 { return float64(b.open()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "meshd_connections_max",
			Help: "The connection budget (-max-open-connections, by default the descriptor limit less 128).",
		}, func() float64 { return float64(b.max) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "meshd_connections_refused_total",
			Help: "Connections answered 429 and closed because the budget was spent and none could be spared.",
		}, func() float64 { return float64(b.refused.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "meshd_connections_reaped_total",
			Help:        reapedHelp,
			ConstLabels: prometheus.Labels{"state": "idle"},
		}, func() float64 { return float64(b.reapedIdle.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "meshd_connections_reaped_total",
			Help:        reapedHelp,
			ConstLabels: prometheus.Labels{"state": "busy"},
		}, func() float64 { return float64(b.reapedBusy.Load()) }),
	)
}

// countResponses counts h's responses by status code.
func (m *metrics) countResponses(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, onHijack: func() {
			m.responses.WithLabelValues(strconv.Itoa(http.StatusSwitchingProtocols)).Inc()
		}}
		h.ServeHTTP(rec, r)
		if rec.hijacked {
			return
		}
		code := rec.code
		if code == 0 {
			code = http.StatusOK
		}
		m.responses.WithLabelValues(strconv.Itoa(code)).Inc()
	})
}

// statusRecorder remembers the status code written through it. It passes Flush and Hijack on,
// so that streaming and WebSocket upgrades work through it; a hijacked connection is counted
// as 101 Switching Protocols when it is taken over, before the upgrade is answered.
type statusRecorder struct {
	http.ResponseWriter
	code     int
	hijacked bool
	onHijack func()
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := s.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("the connection cannot be hijacked")
	}
	conn, rw, err := h.Hijack()
	if err == nil {
		s.hijacked = true
		s.onHijack()
	}
	return conn, rw, err
}

// Unwrap gives http.ResponseController the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// handler serves the metrics in Prometheus' text format.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

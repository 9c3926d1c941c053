// Package metrics holds meshd's Prometheus collectors: the histograms and counters its hooks
// feed (operations, deliveries, commits, sockets, refused keys, HTTP responses) and the
// gauges and counters read from the broker, the bus, the API, the store, the connection budget
// and a cluster node when scraped. The domain packages know nothing of Prometheus.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds meshd's Prometheus collectors. Gauges and counters of state are read from the
// broker, the bus and the API when scraped; histograms are fed by their hooks.
type Metrics struct {
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
	consoleAuth   *prometheus.CounterVec
}

// Build is the build of meshd that runs, as meshd_build_info's labels say it.
type Build struct {
	Version, Revision, Go string
}

// latencyBuckets are the buckets of every latency histogram: 50 µs to 105 s, doubling, so that
// a saturated server (requests of up to the 30 s request timeout, deliveries seconds late)
// shows in them rather than in +Inf.
var latencyBuckets = prometheus.ExponentialBuckets(50e-6, 2, 22)

// New is meshd's collectors with nothing observed yet, the Go runtime's and the process's
// among them.
func New(build Build) *Metrics {
	m := &Metrics{
		reg:           prometheus.NewRegistry(),
		socketsOpened: prometheus.NewCounter(prometheus.CounterOpts(opts("meshd_realtime_sockets_opened_total", "Realtime WebSockets opened (upgraded), probes included."))),
		socketsClosed: counterVec("meshd_realtime_sockets_closed_total", "Realtime WebSockets closed, by the close code sent or received (1006: the connection was lost; 1013: a slow consumer; 44xx: graphql-transport-ws refusals).", "code"),
		authFailures:  counterVec("meshd_auth_failures_total", "Requests, sockets and subscriptions refused for their API key, by transport (http or realtime).", "transport"),
		consoleAuth:   counterVec("meshd_console_auth_failures_total", "Credentials the console and /statusz refused, by reason (missing, wrong, api_key, ticket, csrf, throttled: not compared, the address guessed wrong too often).", "reason"),
		responses:     counterVec("meshd_http_responses_total", "HTTP responses of the main listener by status code (101 for a WebSocket upgrade).", "code"),
		operations:    counterVec("meshd_graphql_operations_total", "Queries and mutations served, by root field and outcome (ok or the errorType).", "operation", "outcome"),
		opDuration:    prometheus.NewHistogramVec(latency("meshd_graphql_operation_duration_seconds", "Time to resolve a query or mutation, by root field."), []string{"operation"}),
		commitDur:     prometheus.NewHistogram(latency("meshd_store_commit_duration_seconds", "Time to make one batch of control-plane changes durable.")),
		commitErrs:    prometheus.NewCounter(prometheus.CounterOpts(opts("meshd_store_commit_errors_total", "Store commits that failed."))),
		commitOps:     prometheus.NewCounter(prometheus.CounterOpts(opts("meshd_store_committed_ops_total", "Changes written to the store."))),
		lastFailed:    prometheus.NewGauge(prometheus.GaugeOpts(opts("meshd_store_last_commit_failed", "1 while the latest store commit failed, 0 once one succeeds."))),
		lastErrAt:     prometheus.NewGauge(prometheus.GaugeOpts(opts("meshd_store_last_commit_error_timestamp_seconds", "When a store commit last failed, in seconds since the Unix epoch; 0 if none has."))),
		delivery:      prometheus.NewHistogram(latency("meshd_delivery_latency_seconds", "Time from a message's publication to its frame being written to a subscriber.")),
	}
	info := prometheus.GaugeOpts(opts("meshd_build_info", "Always 1; its labels say which build of meshd runs."))
	info.ConstLabels = prometheus.Labels{"version": build.Version, "revision": build.Revision, "goversion": build.Go}
	buildInfo := prometheus.NewGauge(info)
	buildInfo.Set(1)
	m.reg.MustRegister(buildInfo, m.socketsOpened, m.socketsClosed, m.authFailures, m.consoleAuth, m.responses, m.operations, m.opDuration, m.commitDur, m.commitErrs, m.commitOps, m.lastFailed, m.lastErrAt, m.delivery,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// opts names a collector and says what it counts.
func opts(name, help string) prometheus.Opts { return prometheus.Opts{Name: name, Help: help} }

// counterVec is a counter by labels.
func counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts(opts(name, help)), labels)
}

// latency is a histogram of durations in seconds, in the latency buckets.
func latency(name, help string) prometheus.HistogramOpts {
	return prometheus.HistogramOpts{Name: name, Help: help, Buckets: latencyBuckets}
}

// ObserveOperation is gql's OnOperation hook.
func (m *Metrics) ObserveOperation(operation, outcome string, d time.Duration) {
	m.operations.WithLabelValues(operation, outcome).Inc()
	m.opDuration.WithLabelValues(operation).Observe(d.Seconds())
}

// ObserveSocketOpen is the realtime endpoints' OnSocketOpen hook.
func (m *Metrics) ObserveSocketOpen() { m.socketsOpened.Inc() }

// ObserveSocketClose is the realtime endpoints' OnSocketClose hook.
func (m *Metrics) ObserveSocketClose(code int) {
	m.socketsClosed.WithLabelValues(strconv.Itoa(code)).Inc()
}

// ObserveDelivery is the realtime endpoints' OnDelivery hook.
func (m *Metrics) ObserveDelivery(d time.Duration) { m.delivery.Observe(d.Seconds()) }

// ObserveAuthFailure counts an API key refused on transport (http or realtime).
func (m *Metrics) ObserveAuthFailure(transport string) {
	m.authFailures.WithLabelValues(transport).Inc()
}

// ObserveConsoleAuthFailure is the console's OnAuthFailure hook.
func (m *Metrics) ObserveConsoleAuthFailure(reason string) {
	m.consoleAuth.WithLabelValues(reason).Inc()
}

// ObserveCommit is the broker's OnCommit hook.
func (m *Metrics) ObserveCommit(d time.Duration, ops int, err error) {
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

// Handler serves the metrics in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

package main

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/smalruby/meshd/broker"
	"github.com/smalruby/meshd/broker/bus"
	"github.com/smalruby/meshd/gql"
)

// metrics holds meshd's Prometheus collectors. Gauges and counters of state are read from the
// broker, the bus and the API when scraped; histograms are fed by their hooks.
type metrics struct {
	reg        *prometheus.Registry
	operations *prometheus.CounterVec
	opDuration *prometheus.HistogramVec
	commitDur  prometheus.Histogram
	commitErrs prometheus.Counter
	commitOps  prometheus.Counter
	delivery   prometheus.Histogram
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		operations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshd_graphql_operations_total",
			Help: "Queries and mutations served, by root field and outcome (ok or the errorType).",
		}, []string{"operation", "outcome"}),
		opDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "meshd_graphql_operation_duration_seconds",
			Help:    "Time to resolve a query or mutation, by root field.",
			Buckets: prometheus.ExponentialBuckets(50e-6, 2, 16),
		}, []string{"operation"}),
		commitDur: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "meshd_store_commit_duration_seconds",
			Help:    "Time to make one batch of control-plane changes durable.",
			Buckets: prometheus.ExponentialBuckets(50e-6, 2, 16),
		}),
		commitErrs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "meshd_store_commit_errors_total",
			Help: "Store commits that failed.",
		}),
		commitOps: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "meshd_store_committed_ops_total",
			Help: "Changes written to the store.",
		}),
		delivery: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "meshd_delivery_latency_seconds",
			Help:    "Time from a message's publication to its frame being written to a subscriber.",
			Buckets: prometheus.ExponentialBuckets(50e-6, 2, 16),
		}),
	}
	bi := readBuildInfo()
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "meshd_build_info",
		Help:        "Always 1; its labels say which build of meshd runs.",
		ConstLabels: prometheus.Labels{"version": bi.Version, "revision": bi.Revision, "goversion": bi.Go},
	})
	build.Set(1)
	m.reg.MustRegister(build, m.operations, m.opDuration, m.commitDur, m.commitErrs, m.commitOps, m.delivery,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// observeOperation is gql's OnOperation hook.
func (m *metrics) observeOperation(operation, outcome string, d time.Duration) {
	m.operations.WithLabelValues(operation, outcome).Inc()
	m.opDuration.WithLabelValues(operation).Observe(d.Seconds())
}

// observeDelivery is the realtime endpoints' OnDelivery hook.
func (m *metrics) observeDelivery(d time.Duration) { m.delivery.Observe(d.Seconds()) }

// observeCommit is the broker's OnCommit hook.
func (m *metrics) observeCommit(d time.Duration, ops int, err error) {
	m.commitDur.Observe(d.Seconds())
	if err != nil {
		m.commitErrs.Inc()
		return
	}
	m.commitOps.Add(float64(ops))
}

// watch registers the collectors that read live state when scraped.
func (m *metrics) watch(b *broker.Broker, bs *bus.Bus, api *gql.Server) {
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
		counter("meshd_bus_dropped_messages_total", "Messages the bus dropped because a group's delivery fell behind.", func() float64 { return float64(bs.Dropped()) }),
		gauge("meshd_realtime_connections", "Open realtime WebSockets.", func() float64 { return float64(api.RealtimeStats().Connections) }),
		gauge("meshd_realtime_subscriptions", "Live subscriptions.", func() float64 { return float64(api.RealtimeStats().Subscriptions) }),
		gauge("meshd_realtime_executions", "Running subscription executions, each shared by every subscriber of one document and variables.", func() float64 { return float64(api.RealtimeStats().Executions) }),
		counter("meshd_messages_delivered_total", "Message frames written to subscribers.", func() float64 { return float64(api.RealtimeStats().FramesSent) }),
		counter("meshd_slow_consumer_disconnects_total", "WebSockets closed because their reader fell too far behind.", func() float64 { return float64(api.RealtimeStats().SlowConsumers) }),
	)
}

// handler serves the metrics in Prometheus' text format.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smalruby/meshd/broker"
	"github.com/smalruby/meshd/broker/bus"
	"github.com/smalruby/meshd/broker/cluster"
	"github.com/smalruby/meshd/cmd/meshd/connbudget"
	"github.com/smalruby/meshd/gql"
	"github.com/smalruby/meshd/store"
)

// gauge is a gauge read from f when scraped.
func gauge(name, help string, f func() float64) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts(opts(name, help)), f)
}

// counter is a counter read from f when scraped.
func counter(name, help string, f func() float64) prometheus.Collector {
	return prometheus.NewCounterFunc(prometheus.CounterOpts(opts(name, help)), f)
}

// Watch registers the collectors that read the live state of the broker, the bus and the API
// when scraped.
func (m *Metrics) Watch(b broker.Service, bs *bus.Bus, api *gql.Server) {
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

// WatchStore registers the size of a bbolt state file; another store has none.
func (m *Metrics) WatchStore(st store.Store) {
	if f, ok := st.(*store.Bolt); ok {
		m.reg.MustRegister(gauge("meshd_store_file_bytes", "Size of the state file.", func() float64 { return float64(f.Size()) }))
	}
}

// reaped is meshd_connections_reaped_total of one state, read from f when scraped.
func reaped(state string, f func() float64) prometheus.Collector {
	o := prometheus.CounterOpts(opts("meshd_connections_reaped_total", "Connections closed to make room for a new one while the budget was spent, by state: idle (a keep-alive between requests, or nothing sent yet) or busy (the oldest request in progress of the address holding the most)."))
	o.ConstLabels = prometheus.Labels{"state": state}
	return prometheus.NewCounterFunc(o, f)
}

// WatchBudget registers the connection budget's gauges and counters.
func (m *Metrics) WatchBudget(b *connbudget.Budget) {
	m.reg.MustRegister(
		gauge("meshd_connections_open", "Connections open on every listener (API, console, metrics, pprof), all drawn from one budget.", func() float64 { return float64(b.Stats().Open) }),
		gauge("meshd_connections_max", "The connection budget (-max-open-connections, by default the descriptor limit less 128).", func() float64 { return float64(b.Stats().Max) }),
		counter("meshd_connections_refused_total", "Connections answered 429 and closed because the budget was spent and none could be spared.", func() float64 { return float64(b.Stats().Refused) }),
		reaped("idle", func() float64 { return float64(b.Stats().ReapedIdle) }),
		reaped("busy", func() float64 { return float64(b.Stats().ReapedBusy) }),
	)
}

// WatchCluster registers the gauges of a cluster node: how far it has applied the log and how
// far behind the shards' leaders it is. One meshd on its own has none.
func (m *Metrics) WatchCluster(svc broker.Service) {
	n, ok := svc.(*cluster.Node)
	if !ok {
		return
	}
	progress := func() (uint64, int64) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return n.Progress(ctx)
	}
	m.reg.MustRegister(
		counter("meshd_cluster_applied_entries_total", "Entries of the cluster's replicated log this node has applied, summed over the log's shards.", func() float64 { a, _ := progress(); return float64(a) }),
		gauge("meshd_cluster_log_behind_entries", "Entries the leaders of the log's shards hold that this node has not applied yet; -1 when one of them cannot be reached.", func() float64 { _, b := progress(); return float64(b) }),
	)
}

package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/smalruby/meshd/broker"
	"github.com/smalruby/meshd/broker/bus"
	"github.com/smalruby/meshd/broker/cluster"
	"github.com/smalruby/meshd/cmd/meshd/console"
	"github.com/smalruby/meshd/cmd/meshd/editor"
	"github.com/smalruby/meshd/gql"
)

// config is every setting of meshd. Each has a flag and a MESH_* environment twin; a flag
// given on the command line wins over the environment, which wins over the default.
type config struct {
	listenAddr          string
	dataDir             string
	storeKind           string
	apiKeys             []string
	allowedOrigins      []string
	domainMode          string
	secret              string
	trustedProxies      []netip.Prefix
	hostInterval        int
	hostTTL             int
	memberInterval      int
	memberTTL           int
	maxConnection       int
	deadGroupGrace      int
	eventTTL            int
	pollingInterval     int
	eventPageLimit      int
	maxRequestBytes     int64
	maxFrameBytes       int64
	limits              gql.Limits
	keepalive           int
	connTimeoutMS       int
	flushInterval       time.Duration
	sweepInterval       time.Duration
	requestTimeout      time.Duration
	shutdownTimeout     time.Duration
	readTimeout         time.Duration
	writeTimeout        time.Duration
	idleTimeout         time.Duration
	maxOpenConns        int
	maxConnsPerAddr     int
	memoryLimitMiB      int
	natsListen          string
	natsToken           string
	maxConnections      int
	maxSubs             int
	maxGroupSubsPerAddr int
	sendQueue           int
	sendQueueBytes      int
	metricsAddr         string
	pprofAddr           string
	tlsCert             string
	tlsKey              string
	staticDir           string
	publicURL           string
	logLevel            string
	logFormat           string
	cluster             clusterConfig
	adminKeys           []string
	consoleAddr         string
}

// setting describes one configuration knob for the flag set, -h and the README.
type setting struct {
	topic topic
	env   string
	usage string
	value flag.Value
	// flag names the flag when it is not derived from env.
	flag string
}

// topic groups settings in -h and in the README.
type topic int

const (
	topicListening topic = iota
	topicSecurity
	topicLifetimes
	topicLimits
	topicStorage
	topicCluster
	topicLogging
)

// topics are the titles of the topics, in the order -h shows them.
var topics = [...]string{
	topicListening: "Listening",
	topicSecurity:  "Security",
	topicLifetimes: "Lifetimes",
	topicLimits:    "Limits",
	topicStorage:   "Storage",
	topicCluster:   "Cluster",
	topicLogging:   "Logging and metrics",
}

// name is the setting's flag: MESH_HOST_HEARTBEAT_TTL_SECONDS becomes
// host-heartbeat-ttl-seconds unless the setting names its own.
func (s setting) name() string {
	if s.flag != "" {
		return s.flag
	}
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(s.env, "MESH_")), "_", "-")
}

// The defaults of the broker's rules and the API's limits, from their one table.
var (
	brokerDefaults = broker.DefaultConfig()
	apiDefaults    = gql.DefaultConfig()
)

// The defaults of meshd's own settings that other commands (meshd status) read as well.
const (
	defaultListenAddr = ":8080"
	defaultDataDir    = "meshd-data"
)

// secondsOf is d in whole seconds, for the settings counted in seconds.
func secondsOf(d time.Duration) int { return int(d / time.Second) }

func (c *config) settings() []setting {
	return []setting{
		{topicListening, "MESH_LISTEN_ADDR", "address the HTTP and WebSocket API listens on", stringVar(&c.listenAddr, defaultListenAddr), ""},
		{topicListening, "MESH_TLS_CERT", "PEM certificate (chain) for HTTPS and WSS; reloaded on SIGHUP", stringVar(&c.tlsCert, ""), ""},
		{topicListening, "MESH_TLS_KEY", "PEM private key of -tls-cert", stringVar(&c.tlsKey, ""), ""},
		{topicListening, "MESH_CONSOLE_ADDR", "serve the teacher's console and /statusz on this address only (e.g. 127.0.0.1:8081); empty serves them on the main listener", stringVar(&c.consoleAddr, ""), ""},
		{topicListening, "MESH_STATIC_DIR", "serve a built Smalruby editor from this directory on the same origin", stringVar(&c.staticDir, ""), "static"},
		{topicListening, "MESH_PUBLIC_URL", "meshd's URL as pupils' browsers reach it (e.g. http://meshd.school.lan:8080); the -static editor's compiled-in AppSync endpoint becomes this plus /graphql; empty makes it the origin the editor's page was loaded from plus /graphql", stringVar(&c.publicURL, ""), ""},
		{topicSecurity, "MESH_API_KEYS", "comma-separated API keys clients must send; empty accepts any key (set it in the environment: a command line is visible to every local user)", listVar(&c.apiKeys, ""), ""},
		{topicSecurity, "MESH_ALLOWED_ORIGINS", "comma-separated browser origins allowed; empty allows all", listVar(&c.allowedOrigins, ""), ""},
		{topicSecurity, "MESH_DOMAIN_MODE", "what createDomain returns: fixed (one domain for everyone, for a LAN), ip or subnet", stringVar(&c.domainMode, "fixed"), ""},
		{topicSecurity, "MESH_SECRET_KEY", "secret mixed into createDomain's hash; when empty, generated and kept in the data directory unless -store memory with -domain-mode fixed, which need none", stringVar(&c.secret, ""), ""},
		{topicSecurity, "MESH_ADMIN_KEYS", "comma-separated admin keys of the teacher's console and /statusz (never an API key); empty generates one into the data directory (with -store memory, kept in memory only)", listVar(&c.adminKeys, ""), ""},
		{topicSecurity, "MESH_TRUSTED_PROXIES", "comma-separated networks (CIDR) whose X-Forwarded-For is believed", prefixVar(&c.trustedProxies, ""), ""},
		{topicLifetimes, "MESH_HOST_HEARTBEAT_INTERVAL_SECONDS", "how often hosts renew their heartbeat", intVar(&c.hostInterval, secondsOf(brokerDefaults.HostHeartbeatInterval)), ""},
		{topicLifetimes, "MESH_HOST_HEARTBEAT_TTL_SECONDS", "a group dies this long after its last host heartbeat", intVar(&c.hostTTL, secondsOf(brokerDefaults.HostHeartbeatTTL)), ""},
		{topicLifetimes, "MESH_MEMBER_HEARTBEAT_INTERVAL_SECONDS", "how often members send heartbeats", intVar(&c.memberInterval, secondsOf(brokerDefaults.MemberHeartbeatInterval)), ""},
		{topicLifetimes, "MESH_MEMBER_HEARTBEAT_TTL_SECONDS", "a membership or status lives this long after its last refresh", intVar(&c.memberTTL, secondsOf(brokerDefaults.MemberTTL)), ""},
		{topicLifetimes, "MESH_MAX_CONNECTION_TIME_SECONDS", "absolute lifetime of a group (and the cap of maxConnectionTimeSeconds)", intVar(&c.maxConnection, secondsOf(brokerDefaults.MaxConnectionTime)), ""},
		{topicLifetimes, "MESH_DEAD_GROUP_GRACE_SECONDS", "a group that died (expiresAt, or its host's heartbeat) still answers Group expired / heartbeat expired this long, then is forgotten", intVar(&c.deadGroupGrace, secondsOf(brokerDefaults.DeadGroupGrace)), ""},
		{topicLifetimes, "MESH_EVENT_TTL_SECONDS", "how long polling events are kept", intVar(&c.eventTTL, secondsOf(brokerDefaults.EventTTL)), ""},
		{topicLifetimes, "MESH_POLLING_INTERVAL_SECONDS", "poll interval told to groups that do not use WebSockets", intVar(&c.pollingInterval, secondsOf(brokerDefaults.PollingInterval)), ""},
		{topicLifetimes, "MESH_KEEPALIVE_SECONDS", "interval of realtime keep-alive (ka) frames", intVar(&c.keepalive, secondsOf(apiDefaults.Realtime.KeepAlive)), ""},
		{topicLifetimes, "MESH_CONNECTION_TIMEOUT_MS", "connectionTimeoutMs advertised in connection_ack", intVar(&c.connTimeoutMS, apiDefaults.Realtime.ConnectionTimeoutMS), ""},
		{topicLifetimes, "MESH_REQUEST_TIMEOUT", "longest a single request may run", durationVar(&c.requestTimeout, apiDefaults.RequestTimeout), ""},
		{topicLifetimes, "MESH_SHUTDOWN_TIMEOUT", "how long a graceful shutdown waits for requests and sockets", durationVar(&c.shutdownTimeout, 10*time.Second), ""},
		{topicLifetimes, "MESH_READ_TIMEOUT", "longest an HTTP request's headers, and then its body, may take to arrive", durationVar(&c.readTimeout, 20*time.Second), ""},
		{topicLifetimes, "MESH_WRITE_TIMEOUT", "longest from an HTTP request's headers to the end of its answer (more than -request-timeout)", durationVar(&c.writeTimeout, 60*time.Second), ""},
		{topicLifetimes, "MESH_IDLE_TIMEOUT", "how long an idle keep-alive HTTP connection stays open", durationVar(&c.idleTimeout, 120*time.Second), ""},
		{topicLimits, "MESH_EVENT_PAGE_LIMIT", "most events one getEventsSince or pollGroupData returns", intVar(&c.eventPageLimit, brokerDefaults.EventPageLimit), ""},
		{topicLimits, "MESH_MAX_REQUEST_BYTES", "largest HTTP request body accepted", int64Var(&c.maxRequestBytes, apiDefaults.MaxRequestBytes), ""},
		{topicLimits, "MESH_MAX_WS_FRAME_BYTES", "largest WebSocket frame accepted", int64Var(&c.maxFrameBytes, apiDefaults.Realtime.MaxFrameBytes), ""},
		{topicLimits, "MESH_MAX_CONNECTIONS", "most realtime WebSockets open at once; more get HTTP 429", intVar(&c.maxConnections, apiDefaults.Realtime.MaxConnections), ""},
		{topicLimits, "MESH_MAX_OPEN_CONNECTIONS", "the connection budget: most connections (HTTP and WebSocket, on every listener) open at once; when it is spent the idle ones make room first, and what cannot be spared is answered 429; 0 takes the descriptor limit less 128", intVar(&c.maxOpenConns, 0), ""},
		{topicLimits, "MESH_MAX_CONNECTIONS_PER_ADDRESS", "most connections open at once from one client address (trusted proxies excepted); 0 sets no cap: a school behind one NAT address may use the whole budget, and under pressure the address holding the most yields first", intVar(&c.maxConnsPerAddr, 0), ""},
		{topicLimits, "MESH_MEMORY_LIMIT_MIB", "soft limit, in MiB, on the memory Go's runtime holds (heap, stacks, buffers): the garbage collector runs more often as meshd nears it, trading CPU for memory (see deploy/cluster.md for what it buys a cluster node); 0 sets none (GOMEMLIMIT still applies)", intVar(&c.memoryLimitMiB, 0), ""},
		{topicLimits, "MESH_MAX_SUBSCRIPTIONS_PER_CONNECTION", "most live subscriptions on one WebSocket", intVar(&c.maxSubs, apiDefaults.Realtime.MaxSubscriptions), ""},
		{topicLimits, "MESH_MAX_GROUP_SUBSCRIPTIONS_PER_ADDRESS", "most live subscriptions to one group from one client address, over all its WebSockets (the editor opens one per group, older ones three: a class of 40 behind one NAT opens 40 to 120)", intVar(&c.maxGroupSubsPerAddr, apiDefaults.Realtime.MaxGroupSubscriptionsPerAddress), ""},
		{topicLimits, "MESH_SEND_QUEUE_FRAMES", "frames queued for a slow reader before its WebSocket is closed with 1013", intVar(&c.sendQueue, apiDefaults.Realtime.SendQueue), ""},
		{topicLimits, "MESH_SEND_QUEUE_BYTES", "bytes queued for a slow reader before its WebSocket is closed with 1013", intVar(&c.sendQueueBytes, apiDefaults.Realtime.SendQueueBytes), ""},
		{topicLimits, "MESH_MAX_QUERY_BYTES", "longest GraphQL document accepted", intVar(&c.limits.MaxQueryBytes, apiDefaults.Limits.MaxQueryBytes), ""},
		{topicLimits, "MESH_MAX_DEPTH", "deepest nesting of fields in a document", intVar(&c.limits.MaxDepth, apiDefaults.Limits.MaxDepth), ""},
		{topicLimits, "MESH_MAX_OVERLAP_PAIRS", "most pairs of same-named fields validation compares (the cost grows with their square)", intVar(&c.limits.MaxOverlapPairs, apiDefaults.Limits.MaxOverlapPairs), ""},
		{topicLimits, "MESH_MAX_SELECTIONS", "most selections of an operation once its fragments are expanded", intVar(&c.limits.MaxSelections, apiDefaults.Limits.MaxSelections), ""},
		{topicLimits, "MESH_MAX_ALIASES", "most aliases in a document", intVar(&c.limits.MaxAliases, apiDefaults.Limits.MaxAliases), ""},
		{topicLimits, "MESH_MAX_RESPONSE_BYTES", "largest answer to one query or mutation", intVar(&c.limits.MaxResponseBytes, apiDefaults.Limits.MaxResponseBytes), ""},
		{topicLimits, "MESH_MAX_SUBSCRIPTION_FRAME_BYTES", "largest payload of one subscription frame; a larger message is answered with an error", intVar(&c.limits.MaxFrameBytes, apiDefaults.Limits.MaxFrameBytes), ""},
		{topicLimits, "MESH_DOCUMENT_CACHE", "how many validated documents are remembered", intVar(&c.limits.DocumentCache, apiDefaults.Limits.DocumentCache), ""},
		{topicLimits, "MESH_MAX_ERRORS", "most errors one answer lists; the rest are counted in one last error", intVar(&c.limits.MaxErrors, apiDefaults.Limits.MaxErrors), ""},
		{topicLimits, "MESH_MAX_VARIABLE_BYTES", "longest JSON text of a request's variables", intVar(&c.limits.MaxVariableBytes, apiDefaults.Limits.MaxVariableBytes), ""},
		{topicLimits, "MESH_MAX_VARIABLE_DEPTH", "deepest nesting of a request's variables (the object holding them is 1)", intVar(&c.limits.MaxVariableDepth, apiDefaults.Limits.MaxVariableDepth), ""},
		{topicLimits, "MESH_MAX_VARIABLE_VALUES", "most JSON values in a request's variables, used or not; checked on the text before any is decoded", intVar(&c.limits.MaxVariableValues, apiDefaults.Limits.MaxVariableValues), ""},
		{topicStorage, "MESH_DATA_DIR", "directory for the state file and the generated secret", stringVar(&c.dataDir, defaultDataDir), ""},
		{topicStorage, "MESH_STORE", "state store: bbolt (durable, one file) or memory (lost at exit)", stringVar(&c.storeKind, "bbolt"), ""},
		{topicStorage, "MESH_STATUS_FLUSH_INTERVAL", "how often changed node statuses are written to the store", durationVar(&c.flushInterval, brokerDefaults.StatusFlushInterval), ""},
		{topicStorage, "MESH_SWEEP_INTERVAL", "how often groups that died are announced to their subscribers, and dead groups past their grace, expired members and events removed", durationVar(&c.sweepInterval, brokerDefaults.SweepInterval), ""},
		{topicCluster, "MESH_CLUSTER_LISTEN", "address this node's cluster routes listen on (e.g. 0.0.0.0:6222); empty runs meshd as one process", stringVar(&c.cluster.listen, ""), ""},
		{topicCluster, "MESH_CLUSTER_ROUTES", "comma-separated nats://host:port route addresses of the cluster's nodes (listing this node too is harmless)", listVar(&c.cluster.routes, ""), ""},
		{topicCluster, "MESH_CLUSTER_NAME", "name of the cluster, the same on every node", stringVar(&c.cluster.name, "meshd"), ""},
		{topicCluster, "MESH_NODE_NAME", "this node's name, unique in the cluster and stable across restarts; empty is the host name", stringVar(&c.cluster.nodeName, ""), ""},
		{topicCluster, "MESH_CLUSTER_SECRET", "shared secret the nodes' routes authenticate with, at least 16 characters; required with -cluster-listen", stringVar(&c.cluster.secret, ""), ""},
		{topicCluster, "MESH_CLUSTER_TLS_CERT", "PEM certificate this node presents on routes; empty uses one derived from -cluster-secret (routes always use mutual TLS)", stringVar(&c.cluster.tlsCert, ""), ""},
		{topicCluster, "MESH_CLUSTER_TLS_KEY", "PEM private key of -cluster-tls-cert", stringVar(&c.cluster.tlsKey, ""), ""},
		{topicCluster, "MESH_CLUSTER_TLS_CA", "PEM CA certificate that signed every node's route certificate", stringVar(&c.cluster.tlsCA, ""), ""},
		{topicCluster, "MESH_CLUSTER_REPLICAS", "how many nodes store every change; a majority of them must be up to change anything", intVar(&c.cluster.replicas, cluster.DefaultReplicas), ""},
		{topicCluster, "MESH_CLUSTER_SHARDS", "how many shards, each with its own leader, the cluster's log is split into; fixed when the cluster is first started (a node set to another number refuses to serve)", intVar(&c.cluster.shards, cluster.DefaultShards), ""},
		{topicCluster, "MESH_CLUSTER_SYNC", "when a node writes its copy of the log through to disk (fsync): always (before a change is acknowledged, as one meshd does; a power cut of every node loses nothing acknowledged) or an interval such as 1s (faster writes; a power cut of every node at once can lose the acknowledged changes of the last interval)", syncVar(&c.cluster.sync), ""},
		{topicCluster, "MESH_NATS_LISTEN", "also open the embedded NATS server on this address (e.g. 127.0.0.1:4222) for clients with -nats-token; empty keeps it in-process", stringVar(&c.natsListen, ""), ""},
		{topicCluster, "MESH_NATS_TOKEN", "token NATS clients of -nats-listen must present, at least 16 characters (required with it: the port carries every group's messages)", stringVar(&c.natsToken, ""), ""},
		{topicLogging, "MESH_LOG_LEVEL", "log level: debug, info, warn or error", stringVar(&c.logLevel, "info"), ""},
		{topicLogging, "MESH_LOG_FORMAT", "log format: text or json", stringVar(&c.logFormat, "text"), ""},
		{topicLogging, "MESH_METRICS_ADDR", "serve /metrics on this separate address; empty serves it on the main listener", stringVar(&c.metricsAddr, ""), ""},
		{topicLogging, "MESH_PPROF_ADDR", "serve Go's pprof profiles on this address (e.g. 127.0.0.1:6060); empty turns them off", stringVar(&c.pprofAddr, ""), ""},
	}
}

// usageError is a mistake in the command line or the environment: meshd prints it with a hint
// to run -h and exits with status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// parseConfig reads the environment, then the command line, which holds flags only. -h
// writes the help to help and returns flag.ErrHelp; every mistake is a usageError.
func parseConfig(args []string, getenv func(string) string, help io.Writer) (*config, error) {
	c, rest, err := parseSettings(args, getenv, help)
	if err == nil && len(rest) > 0 {
		err = usageError{fmt.Errorf("unexpected argument %q", rest[0])}
	}
	return c, err
}

// parseSettings is parseConfig for commands that take arguments after the flags: it returns
// them.
func parseSettings(args []string, getenv func(string) string, help io.Writer) (*config, []string, error) {
	c := &config{}
	fs := flag.NewFlagSet("meshd", flag.ContinueOnError)
	// The flag package would print each error and the whole help; meshd prints one line.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	settings := c.settings()
	var envErrs []error
	for _, s := range settings {
		if v := getenv(s.env); v != "" {
			if err := s.value.Set(v); err != nil {
				envErrs = append(envErrs, fmt.Errorf("%s=%q: %w", s.env, v, err))
			}
		}
		fs.Var(s.value, s.name(), s.usage)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(help, settings)
			return nil, nil, err
		}
		return nil, nil, usageError{flagError(err, settings)}
	}
	if err := errors.Join(envErrs...); err != nil {
		return nil, nil, usageError{err}
	}
	if err := c.validate(); err != nil {
		return nil, nil, usageError{err}
	}
	return c, fs.Args(), nil
}

// flagError adds the likely intended flag to the flag package's "not defined" error.
func flagError(err error, settings []setting) error {
	const undefined = "flag provided but not defined: -"
	name, ok := strings.CutPrefix(err.Error(), undefined)
	if !ok {
		return err
	}
	names := make([]string, len(settings))
	for i, s := range settings {
		names[i] = s.name()
	}
	if near := nearest(name, names); near != "" {
		return fmt.Errorf("%w (did you mean -%s?)", err, near)
	}
	return err
}

// nearest returns the candidate closest to s by edit distance, or "" when none is close
// enough to be a plausible typo.
func nearest(s string, candidates []string) string {
	best, bestDist := "", len(s)/3+2
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// validate checks every setting, alone and with the others. It is the one validation of
// settings: parseConfig runs it, so a start and `meshd check` refuse the same settings.
func (c *config) validate() error {
	var errs []error
	positive := map[string]int{
		"host-heartbeat-interval-seconds":     c.hostInterval,
		"host-heartbeat-ttl-seconds":          c.hostTTL,
		"member-heartbeat-interval-seconds":   c.memberInterval,
		"member-heartbeat-ttl-seconds":        c.memberTTL,
		"max-connection-time-seconds":         c.maxConnection,
		"dead-group-grace-seconds":            c.deadGroupGrace,
		"event-ttl-seconds":                   c.eventTTL,
		"polling-interval-seconds":            c.pollingInterval,
		"event-page-limit":                    c.eventPageLimit,
		"keepalive-seconds":                   c.keepalive,
		"connection-timeout-ms":               c.connTimeoutMS,
		"max-connections":                     c.maxConnections,
		"max-subscriptions-per-connection":    c.maxSubs,
		"max-group-subscriptions-per-address": c.maxGroupSubsPerAddr,
		"send-queue-frames":                   c.sendQueue,
		"max-query-bytes":                     c.limits.MaxQueryBytes,
		"max-depth":                           c.limits.MaxDepth,
		"max-overlap-pairs":                   c.limits.MaxOverlapPairs,
		"max-selections":                      c.limits.MaxSelections,
		"max-aliases":                         c.limits.MaxAliases,
		"max-response-bytes":                  c.limits.MaxResponseBytes,
		"max-subscription-frame-bytes":        c.limits.MaxFrameBytes,
		"document-cache":                      c.limits.DocumentCache,
		"max-errors":                          c.limits.MaxErrors,
		"max-variable-bytes":                  c.limits.MaxVariableBytes,
		"max-variable-depth":                  c.limits.MaxVariableDepth,
		"max-variable-values":                 c.limits.MaxVariableValues,
		"send-queue-bytes":                    c.sendQueueBytes,
	}
	for name, v := range positive {
		if v < 1 {
			errs = append(errs, fmt.Errorf("-%s must be at least 1, got %d", name, v))
		}
	}
	if c.maxRequestBytes < 1024 || c.maxFrameBytes < 1024 {
		errs = append(errs, errors.New("-max-request-bytes and -max-ws-frame-bytes must be at least 1024"))
	}
	if c.storeKind != "bbolt" && c.storeKind != "memory" {
		errs = append(errs, fmt.Errorf("-store must be bbolt or memory, got %q", c.storeKind))
	}
	if c.maxOpenConns < 0 {
		errs = append(errs, fmt.Errorf("-max-open-connections must be 0 (automatic) or more, got %d", c.maxOpenConns))
	}
	if c.memoryLimitMiB != 0 && c.memoryLimitMiB < minMemoryLimitMiB {
		errs = append(errs, fmt.Errorf("-memory-limit-mib must be 0 (none) or at least %d, got %d", minMemoryLimitMiB, c.memoryLimitMiB))
	}
	if c.maxConnsPerAddr < 0 {
		errs = append(errs, fmt.Errorf("-max-connections-per-address must be 0 (no cap) or more, got %d", c.maxConnsPerAddr))
	}
	if c.writeTimeout <= c.requestTimeout {
		errs = append(errs, fmt.Errorf("-write-timeout (%s) must be longer than -request-timeout (%s)", c.writeTimeout, c.requestTimeout))
	}
	if c.natsListen != "" && c.natsToken == "" {
		errs = append(errs, errors.New("-nats-listen needs -nats-token (MESH_NATS_TOKEN): without it anyone who reaches the port reads every group's messages"))
	}
	if err := strongSecret("nats-token", c.natsToken, bus.MinTokenLength); err != nil {
		errs = append(errs, err)
	}
	if err := strongSecret("cluster-secret", c.cluster.secret, cluster.MinSecretLength); err != nil {
		errs = append(errs, err)
	}
	if (c.tlsCert == "") != (c.tlsKey == "") {
		errs = append(errs, errors.New("-tls-cert and -tls-key go together"))
	}
	if c.logFormat != "text" && c.logFormat != "json" {
		errs = append(errs, fmt.Errorf("-log-format must be text or json, got %q", c.logFormat))
	}
	if _, err := parseLevel(c.logLevel); err != nil {
		errs = append(errs, err)
	}
	if _, err := broker.ParseDomainMode(c.domainMode); err != nil {
		errs = append(errs, fmt.Errorf("-domain-mode: %w", err))
	}
	for _, o := range c.allowedOrigins {
		if err := checkOrigin(o); err != nil {
			errs = append(errs, fmt.Errorf("-allowed-origins: %w", err))
		}
	}
	if c.staticDir != "" {
		if fi, err := os.Stat(c.staticDir); err != nil {
			errs = append(errs, fmt.Errorf("-static: %w", err))
		} else if !fi.IsDir() {
			errs = append(errs, fmt.Errorf("-static: %s is not a directory", c.staticDir))
		} else if err := editor.CheckDataDir(c.staticDir, c.dataDir); err != nil {
			errs = append(errs, fmt.Errorf("-static: %w", err))
		}
	}
	if c.publicURL != "" {
		if err := editor.CheckPublicURL(c.publicURL); err != nil {
			errs = append(errs, fmt.Errorf("-public-url: %w", err))
		}
	}
	for _, a := range c.addresses() {
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			errs = append(errs, fmt.Errorf("-%s: %w", a.flag, err))
		}
	}
	errs = append(errs, console.ValidateAdminKeys(c.adminKeys, c.apiKeys)...)
	errs = append(errs, c.cluster.validate()...)
	return errors.Join(errs...)
}

// strongSecret refuses a set secret shorter than min characters, naming the flag but never
// the secret.
func strongSecret(flag, secret string, min int) error {
	if secret == "" || len(secret) >= min {
		return nil
	}
	return fmt.Errorf("-%s must be at least %d characters long, not %d: generate one with openssl rand -hex 32", flag, min, len(secret))
}

// parseLevel reads -log-level.
func parseLevel(s string) (slog.Level, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("-log-level must be debug, info, warn or error, got %q", s)
	}
	return level, nil
}

// checkOrigin accepts an origin as browsers send it: scheme, host and port only.
func checkOrigin(o string) error {
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an origin: write it as a browser sends it, with its scheme, such as https://smalruby.app", o)
	}
	if want := u.Scheme + "://" + strings.ToLower(u.Host); o != want {
		return fmt.Errorf("%q is not an origin as a browser sends it: write %s (no path, lower case)", o, want)
	}
	return nil
}

// listenSetting is a setting that names an address to listen on.
type listenSetting struct{ flag, addr string }

// addresses lists the addresses meshd may listen on, set or not.
func (c *config) addresses() []listenSetting {
	var out []listenSetting
	for _, a := range []listenSetting{
		{"listen-addr", c.listenAddr},
		{"metrics-addr", c.metricsAddr},
		{"pprof-addr", c.pprofAddr},
		{"nats-listen", c.natsListen},
		{"console-addr", c.consoleAddr},
	} {
		if a.addr != "" {
			out = append(out, a)
		}
	}
	return out
}

// unknownVariables names the MESH_* variables of environ that meshd does not read, each with
// the setting probably meant.
func unknownVariables(environ []string) []string {
	var out []string
	known := map[string]bool{}
	var names []string
	for _, s := range (&config{}).settings() {
		known[s.env] = true
		names = append(names, s.env)
	}
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "MESH_") || known[name] {
			continue
		}
		w := fmt.Sprintf("%s is set but is not a meshd setting: it is ignored", name)
		if near := nearest(name, names); near != "" {
			w += fmt.Sprintf(" (did you mean %s?)", near)
		}
		out = append(out, w)
	}
	return out
}

// warnings are settings that work but are probably not what the operator wants: no API key,
// a private listener (console, pprof, NATS) open beyond loopback.
func (c *config) warnings() []string {
	var out []string
	if len(c.apiKeys) == 0 {
		out = append(out, "no API key is set (-api-keys, MESH_API_KEYS): meshd accepts requests with any key or none")
	}
	for _, a := range c.addresses() {
		if a.flag != "listen-addr" && a.flag != "metrics-addr" && !loopback(a.addr) {
			out = append(out, fmt.Sprintf("-%s %s listens beyond loopback: anyone on the network can reach it; bind it to 127.0.0.1 unless that is meant", a.flag, a.addr))
		}
	}
	return out
}

// loopback reports whether addr listens on the loopback interface only.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

type stringValue struct{ p *string }

func stringVar(p *string, def string) flag.Value { *p = def; return stringValue{p} }
func (v stringValue) String() string             { return *v.p }
func (v stringValue) Set(s string) error         { *v.p = s; return nil }

type intValue struct{ p *int }

func intVar(p *int, def int) flag.Value { *p = def; return intValue{p} }
func (v intValue) String() string       { return strconv.Itoa(*v.p) }
func (v intValue) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return errors.New("not a whole number")
	}
	*v.p = n
	return nil
}

type int64Value struct{ p *int64 }

func int64Var(p *int64, def int64) flag.Value { *p = def; return int64Value{p} }
func (v int64Value) String() string           { return strconv.FormatInt(*v.p, 10) }
func (v int64Value) Set(s string) error {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return errors.New("not a whole number")
	}
	*v.p = n
	return nil
}

type durationValue struct{ p *time.Duration }

func durationVar(p *time.Duration, def time.Duration) flag.Value { *p = def; return durationValue{p} }
func (v durationValue) String() string                           { return v.p.String() }
func (v durationValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return errors.New("not a positive duration such as 1s or 500ms")
	}
	*v.p = d
	return nil
}

type listValue struct{ p *[]string }

func listVar(p *[]string, def string) flag.Value {
	v := listValue{p}
	_ = v.Set(def)
	return v
}
func (v listValue) String() string { return strings.Join(*v.p, ",") }
func (v listValue) Set(s string) error {
	*v.p = nil
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			*v.p = append(*v.p, item)
		}
	}
	return nil
}

type prefixValue struct{ p *[]netip.Prefix }

func prefixVar(p *[]netip.Prefix, def string) flag.Value {
	v := prefixValue{p}
	_ = v.Set(def)
	return v
}
func (v prefixValue) String() string {
	parts := make([]string, len(*v.p))
	for i, p := range *v.p {
		parts[i] = p.String()
	}
	return strings.Join(parts, ",")
}
func (v prefixValue) Set(s string) error {
	*v.p = nil
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item == "" {
			continue
		}
		p, err := netip.ParsePrefix(item)
		if err != nil {
			addr, aerr := netip.ParseAddr(item)
			if aerr != nil {
				return fmt.Errorf("%q is not a network such as 10.0.0.0/8", item)
			}
			p = netip.PrefixFrom(addr, addr.BitLen())
		}
		*v.p = append(*v.p, p.Masked())
	}
	return nil
}

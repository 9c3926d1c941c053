// Package gql serves the Mesh v2 GraphQL API over HTTP: the unified schema of every client
// generation, AppSync-shaped responses and errors, CORS and API keys.
package gql

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	graphql "github.com/graph-gophers/graphql-go"

	"github.com/smalruby/meshd/broker"
	"github.com/smalruby/meshd/gql/access"
)

//go:embed schema.graphql
var schemaSDL string

// fullRoots is the schema definition of schema.graphql.
const fullRoots = "schema { query: Query  mutation: Mutation  subscription: Subscription }"

// Config configures the API layer. New gives the zero limits and timers their values from
// DefaultConfig.
type Config struct {
	// APIKeys are the accepted keys; empty accepts any key, or none.
	APIKeys []string
	// AllowedOrigins, when non-empty, are the only browser origins served.
	AllowedOrigins []string
	// DomainMode and Secret decide what createDomain returns.
	DomainMode broker.DomainMode
	Secret     string
	// TrustedProxies are the networks whose X-Forwarded-For header is believed.
	TrustedProxies access.Proxies
	// MaxRequestBytes bounds an HTTP request body.
	MaxRequestBytes int64
	// RequestTimeout bounds one request's execution.
	RequestTimeout time.Duration
	// Logger receives request errors; slog.Default() when nil.
	Logger *slog.Logger
	// Limits bound what one document and one answer may cost.
	Limits Limits
	// Realtime sets the limits and timers of the WebSocket endpoints.
	Realtime RealtimeConfig
	// OnOperation, when set, is told of every query and mutation: its root field, its outcome
	// ("ok" or an errorType) and its duration.
	OnOperation func(operation, outcome string, d time.Duration)
	// OnAuthFailure, when set, is told of every request, socket or subscription refused for
	// its API key: the transport ("http" or "realtime") and the client's address.
	OnAuthFailure func(transport, ip string)
}

// Server is the GraphQL API over one broker.Service.
type Server struct {
	cfg    Config
	b      broker.Service
	schema *graphql.Schema
	// querySchema is the schema without its mutation root, for GET.
	querySchema *graphql.Schema
	limits      Limits
	docs        *docCache
	res         *resolver
	keys        access.KeySet
	log         *slog.Logger
	rt          realtime
	scans       scans
	queryTexts  queryTexts
	ops         opCounts
	panics      *panics
}

// New parses the schema and binds it to the broker.
func New(b broker.Service, cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	s := &Server{b: b, log: cfg.Logger, limits: cfg.Limits}
	cfg.OnOperation = s.ops.counting(cfg.OnOperation)
	s.cfg = cfg
	if s.log == nil {
		s.log = slog.Default()
	}
	s.docs = newDocCache(s.limits.DocumentCache)
	s.panics = newPanics(s.log)
	trace := operationTracer{cfg.OnOperation}
	opts := []graphql.SchemaOpt{
		graphql.MaxDepth(s.limits.MaxDepth),
		graphql.MaxQueryLength(s.limits.MaxQueryBytes),
		graphql.OverlapValidationLimit(s.limits.MaxOverlapPairs),
		graphql.MaxSelections(s.limits.MaxSelections),
		graphql.Tracer(newBudgetTracer(trace)),
		graphql.SubscribeResolverTimeout(10 * time.Second),
		graphql.PanicHandler(s.panics),
		graphql.Logger(s.panics),
		// SensorData resolves straight from broker.Pair's fields, without a method call per
		// key and value: listGroupStatuses returns hundreds of them.
		graphql.UseFieldResolvers(),
	}
	s.res = &resolver{b: b, cfg: cfg, log: s.log}
	schema, err := graphql.ParseSchema(schemaSDL, s.res, opts...)
	if err != nil {
		return nil, fmt.Errorf("parse schema: %w", err)
	}
	s.schema = schema
	// graphql-go itself refuses a mutation on this view, from its own parse of the document.
	queryOnly := strings.Replace(schemaSDL, fullRoots, "schema { query: Query }", 1)
	if queryOnly == schemaSDL {
		return nil, errors.New("parse schema: the schema's roots are not " + fullRoots)
	}
	if s.querySchema, err = graphql.ParseSchema(queryOnly, s.res, opts...); err != nil {
		return nil, fmt.Errorf("parse query schema: %w", err)
	}
	s.rt.cfg = cfg.Realtime
	s.rt.conns = map[*conn]struct{}{}
	s.rt.stop = make(chan struct{})
	s.rt.upgrader = websocket.Upgrader{
		// Every idle socket holds its read buffer: clients send small frames (a start is
		// well under 1 KB), and larger ones are read through it in pieces.
		ReadBufferSize:  512,
		WriteBufferSize: 4096,
		// Write buffers are borrowed per message, not held by every idle socket.
		WriteBufferPool: &sync.Pool{},
		// Origins are checked before the upgrade, against MESH_ALLOWED_ORIGINS.
		CheckOrigin: func(*http.Request) bool { return true },
	}
	s.keys = access.NewKeySet(cfg.APIKeys)
	return s, nil
}

// Schema is the executable schema of the whole API (queries, mutations and subscriptions),
// for validating documents against it as meshd does; the tests of the client documents use it.
func (s *Server) Schema() *graphql.Schema { return s.schema }

// authorize is Authorized, telling OnAuthFailure of a refusal.
func (s *Server) authorize(key, transport, ip string) bool {
	if s.Authorized(key) {
		return true
	}
	if s.cfg.OnAuthFailure != nil {
		s.cfg.OnAuthFailure(transport, ip)
	}
	return false
}

// Authorized reports whether key may use the API. Keys are compared in constant time.
func (s *Server) Authorized(key string) bool {
	if s.keys.Len() == 0 {
		return true
	}
	return s.keys.Contains(key)
}

// OriginAllowed reports whether a browser origin may use the API ("" is a non-browser client).
func (s *Server) OriginAllowed(origin string) bool {
	return origin == "" || len(s.cfg.AllowedOrigins) == 0 || slices.Contains(s.cfg.AllowedOrigins, origin)
}

type ctxKey int

const clientIPKey ctxKey = iota

func withClientIP(ctx context.Context, ip string) context.Context {
	return context.WithValue(ctx, clientIPKey, ip)
}

func clientIP(ctx context.Context) string {
	ip, _ := ctx.Value(clientIPKey).(string)
	return ip
}

// ClientIP returns the caller's address: the first X-Forwarded-For entry when the peer is a
// trusted proxy, else the peer itself.
func (s *Server) ClientIP(remoteAddr, forwardedFor string) string {
	addr := s.cfg.TrustedProxies.Client(remoteAddr, forwardedFor)
	if !addr.IsValid() {
		return ""
	}
	return addr.String()
}

// Panics is how many panics were recovered while answering requests (each answered
// InternalError).
func (s *Server) Panics() uint64 { return s.panics.count.Load() }

// Handler routes the API's paths: /graphql for queries and mutations, WebSocket upgrades on
// /graphql, /graphql/realtime and /graphql/connect, CORS preflights anywhere.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	api := s.panics.recover(s)
	mux.HandleFunc("/graphql", func(w http.ResponseWriter, r *http.Request) {
		if isUpgrade(r) {
			s.serveRealtime(w, r)
			return
		}
		api.ServeHTTP(w, r)
	})
	realtime := func(w http.ResponseWriter, r *http.Request) {
		if isUpgrade(r) {
			s.serveRealtime(w, r)
			return
		}
		if s.cors(w, r) {
			writeTransportError(w, http.StatusBadRequest, typeMalformedRequest, "This is the realtime endpoint: open a WebSocket with subprotocol graphql-ws.")
		}
	}
	mux.HandleFunc("/graphql/realtime", realtime)
	mux.HandleFunc("/graphql/connect", realtime)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if s.cors(w, r) {
			writeTransportError(w, http.StatusNotFound, "NotFound", "No API at "+r.URL.Path+"; use /graphql.")
		}
	})
	return mux
}

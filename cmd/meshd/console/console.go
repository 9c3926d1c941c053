// Package console is the teacher's console: a live web view of the classroom (domains,
// groups, members, variables, events, server health) served from embedded assets, its JSON
// twin /statusz, the lesson's recent record (RecordPath, RecordCSVPath), one-time login links
// (LinkPath), and the one action it allows, dissolving a group. Everything needs an admin
// key, which is never the pupils' API key: configured, or generated once into the data
// directory (AdminKeyFile). It is served on meshd's main listener (Wrap) or, as Handler, on a
// listener of its own that meshd opens for it.
package console

import (
	"compress/gzip"
	"context"
	"crypto/subtle"
	"embed"
	"encoding/json"
	"errors"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smalruby/meshd/broker"
	"github.com/smalruby/meshd/gql"
	"github.com/smalruby/meshd/gql/access"
)

//go:embed assets
var assets embed.FS

// Timing of the live view.
const (
	// Tick is how often the view is sampled and pushed: updates are coalesced to one per tick.
	Tick = time.Second
	// idleAfter is how long the sampler keeps counting after the last /statusz request when no
	// page is open.
	idleAfter = time.Minute
	// maxStreams bounds the open live views.
	maxStreams = 32
)

// Options configures the console.
type Options struct {
	// Service is asked to dissolve groups, as a host would; required. In a cluster it is the
	// node, so that the dissolve goes through the replicated log.
	Service broker.Service
	// Snapshot returns the state of every group; required. In a cluster it reads the node's
	// local copy of the cluster's state.
	Snapshot func() broker.Snapshot
	// Config holds the heartbeat intervals meshd hands out, from which a pupil's state is told.
	Config broker.Config
	// Ended lists the groups that ended lately; the broker's OnGroupEnd feeds it.
	Ended *Ended
	// Subscriptions counts the live realtime subscriptions of each group.
	Subscriptions func() map[gql.GroupRef]int
	// Health reports the server's own numbers.
	Health func() Health
	// AdminKeys are the keys that open the console; at least one is required.
	AdminKeys []string
	// SessionSecret is meshd's kept secret; with the admin keys it signs the session cookies,
	// so that a teacher stays logged in across a restart and is logged out when the admin
	// keys change. When it is empty the admin keys alone sign them.
	SessionSecret string
	// APIKeys are the pupils' keys, refused with a log line of their own.
	APIKeys []string
	// Admin are more endpoints, by http.ServeMux pattern, served to admin keys and sessions
	// only (meshd's backup).
	Admin map[string]http.Handler
	// LinkBases returns the base URLs (scheme://host:port) at which a teacher's browser reaches
	// the console, for the login links of LinkPath; nil or empty until they are known.
	LinkBases func() []string
	// TrustedProxies are the proxies whose X-Forwarded-For names the client: behind them, admin
	// key guesses are throttled per client rather than for the proxy as a whole.
	TrustedProxies access.Proxies
	// OnAuthFailure, when set, is told of every refused credential with its reason.
	OnAuthFailure func(reason string)
	// Logger receives the console's logs; slog.Default() when nil.
	Logger *slog.Logger
}

// Console serves the console's pages, live stream, JSON status and dissolve action.
type Console struct {
	opts    Options
	auth    *auth
	sampler *sampler
	index   *template.Template
	static  http.Handler

	streamsMu   sync.Mutex
	streams     map[chan struct{}]struct{}
	wantedUntil atomic.Int64
	stop        chan struct{}
	done        chan struct{}
	closeOnce   sync.Once
}

// New checks the options and starts the sampling loop; Close stops it.
func New(opts Options) (*Console, error) {
	if opts.Service == nil || opts.Snapshot == nil {
		return nil, errors.New("console: a service and a snapshot function are required")
	}
	if len(opts.AdminKeys) == 0 {
		return nil, errors.New("console: at least one admin key is required")
	}
	for _, k := range opts.AdminKeys {
		for _, a := range opts.APIKeys {
			if k == a {
				return nil, errors.New("console: an admin key must not be one of the API keys (the pupils' key is public)")
			}
		}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		return nil, err
	}
	index, err := template.ParseFS(sub, "index.html")
	if err != nil {
		return nil, err
	}
	auth := newAuth(opts.SessionSecret, opts.AdminKeys, opts.APIKeys, opts.Logger, opts.OnAuthFailure)
	auth.proxies = opts.TrustedProxies
	c := &Console{
		opts:    opts,
		auth:    auth,
		sampler: newSampler(opts),
		index:   index,
		static:  http.StripPrefix("/console/", http.FileServerFS(sub)),
		streams: map[chan struct{}]struct{}{},
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	go c.loop()
	return c, nil
}

// Close stops the sampling loop.
func (c *Console) Close() {
	c.closeOnce.Do(func() {
		close(c.stop)
		<-c.done
		c.sampler.release()
	})
}

// LoginPath returns the path of a new one-time login link (the console's answer to
// Jupyter's token URL): opening it starts a session without typing a key.
func (c *Console) LoginPath() string { return "/console/login?ticket=" + c.auth.newTicket() }

// loop samples once per Tick while a page is open or /statusz was asked lately, and pushes
// each sample to the open pages.
func (c *Console) loop() {
	defer close(c.done)
	t := time.NewTicker(Tick)
	defer t.Stop()
	sampling := false
	for {
		select {
		case <-c.stop:
			return
		case now := <-t.C:
			c.streamsMu.Lock()
			open := len(c.streams) > 0
			c.streamsMu.Unlock()
			if !open && now.UnixNano() > c.wantedUntil.Load() {
				if sampling {
					c.sampler.release()
					sampling = false
				}
				continue
			}
			sampling = true
			c.sampler.sample(now)
			c.notify()
		}
	}
}

func (c *Console) notify() {
	c.streamsMu.Lock()
	defer c.streamsMu.Unlock()
	for ch := range c.streams {
		select {
		case ch <- struct{}{}:
		default: // the page has not taken the previous one yet; it gets the newest when it does
		}
	}
}

// Handler serves /console/ (page, assets, login, live stream, dissolve) and /statusz.
func (c *Console) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /console", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/console/", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /console/{$}", c.serveIndex)
	mux.HandleFunc("GET /console/login", c.serveTicket)
	mux.HandleFunc("POST /console/login", c.serveLogin)
	mux.HandleFunc("POST /console/logout", c.csrf(c.serveLogout))
	mux.HandleFunc("GET /console/api/session", c.session(c.serveSession))
	mux.HandleFunc("GET /console/api/stream", c.session(c.serveStream))
	mux.HandleFunc("POST /console/api/dissolve", c.csrf(c.serveDissolve))
	mux.HandleFunc("POST "+LinkPath, c.serveLoginLink)
	mux.Handle("GET "+RecordPath, c.admin(http.HandlerFunc(c.serveRecord)))
	mux.Handle("GET "+RecordCSVPath, c.admin(http.HandlerFunc(c.serveRecordCSV)))
	mux.HandleFunc("GET /console/", func(w http.ResponseWriter, r *http.Request) {
		secure(w)
		w.Header().Set("Cache-Control", "no-cache")
		c.static.ServeHTTP(w, r)
	})
	mux.HandleFunc("GET /statusz", c.serveStatusz)
	for pattern, h := range c.opts.Admin {
		mux.Handle(pattern, c.admin(h))
	}
	return mux
}

// admin serves h to requests with an admin session or key (Authorization: Bearer), refusing
// others as /statusz does.
func (c *Console) admin(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secure(w)
		if _, ok := c.auth.session(r); !ok && !c.auth.checkKey(r, bearer(r)) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="meshd console"`)
			writeError(w, http.StatusUnauthorized, "Unauthorized", "send an admin key as Authorization: Bearer KEY")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// secure sets the headers every console response carries: nothing but this origin may be
// loaded, framed or sent to.
func secure(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	writeJSONBytes(w, status, b)
}

// writeJSONBytes writes an answer already encoded as JSON, a line of its own. The newline
// goes as a write of its own: appending it to b could copy the whole answer (a lesson
// record is up to 32 MiB) and would write into the caller's slice.
func writeJSONBytes(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b)
	_, _ = io.WriteString(w, "\n")
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]string{"error": code, "message": msg})
}

func (c *Console) serveIndex(w http.ResponseWriter, r *http.Request) {
	secure(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = c.index.Execute(w, map[string]string{"Lang": preferredLang(r.Header.Get("Accept-Language"))})
}

// preferredLang is "ja" when the browser's most preferred language is Japanese, else "en".
func preferredLang(accept string) string {
	best, bestQ := "", -1.0
	for _, part := range strings.Split(accept, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		if tag != "" && q > bestQ {
			best, bestQ = tag, q
		}
	}
	if primary, _, _ := strings.Cut(strings.ToLower(best), "-"); primary == "ja" {
		return "ja"
	}
	return "en"
}

// serveTicket logs in with a one-time ticket and sends the browser on to the page.
func (c *Console) serveTicket(w http.ResponseWriter, r *http.Request) {
	secure(w)
	if !c.auth.useTicket(r.URL.Query().Get("ticket")) {
		c.auth.refuse(r, FailureTicket)
		http.Redirect(w, r, "/console/?login=expired", http.StatusSeeOther)
		return
	}
	id, _ := c.auth.newSession()
	setCookie(w, r, id, int(sessionTTL.Seconds()))
	http.Redirect(w, r, "/console/", http.StatusSeeOther)
}

// serveLogin starts a session for a request that carries an admin key in its JSON body
// ({"key": "..."}) or form field "key".
func (c *Console) serveLogin(w http.ResponseWriter, r *http.Request) {
	secure(w)
	if !sameOrigin(r) {
		c.auth.refuse(r, FailureCSRF)
		writeError(w, http.StatusForbidden, "CrossOrigin", "login must come from the console's own page")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	var key string
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		var body struct{ Key string }
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			writeError(w, http.StatusBadRequest, "BadRequest", "body must be JSON {\"key\": \"...\"}")
			return
		}
		key = body.Key
	} else {
		key = r.PostFormValue("key")
	}
	if !c.auth.checkKey(r, strings.TrimSpace(key)) {
		writeError(w, http.StatusUnauthorized, "Unauthorized", "not an admin key")
		return
	}
	id, csrf := c.auth.newSession()
	setCookie(w, r, id, int(sessionTTL.Seconds()))
	writeJSON(w, http.StatusOK, map[string]string{"csrf": csrf})
}

func (c *Console) serveLogout(w http.ResponseWriter, r *http.Request, s session) {
	c.auth.endSession(s)
	setCookie(w, r, "", -1)
	w.WriteHeader(http.StatusNoContent)
}

// session lets only requests with a live session through.
func (c *Console) session(next func(http.ResponseWriter, *http.Request, session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		secure(w)
		s, ok := c.auth.session(r)
		if !ok {
			// No session is no credential: the page asks this way whether to show its login.
			writeError(w, http.StatusUnauthorized, "Unauthorized", "log in with an admin key")
			return
		}
		next(w, r, s)
	}
}

// csrf lets through only same-origin requests with a live session and its CSRF token in the
// X-CSRF-Token header.
func (c *Console) csrf(next func(http.ResponseWriter, *http.Request, session)) http.HandlerFunc {
	return c.session(func(w http.ResponseWriter, r *http.Request, s session) {
		token := r.Header.Get(csrfHeaderName)
		if !sameOrigin(r) || subtle.ConstantTimeCompare([]byte(token), []byte(s.csrf)) != 1 {
			c.auth.refuse(r, FailureCSRF)
			writeError(w, http.StatusForbidden, "CSRF", "missing or wrong X-CSRF-Token")
			return
		}
		next(w, r, s)
	})
}

func (c *Console) serveSession(w http.ResponseWriter, r *http.Request, s session) {
	writeJSON(w, http.StatusOK, map[string]string{"csrf": s.csrf})
}

// serveStatusz returns the status as JSON, for a session or an "Authorization: Bearer KEY"
// admin key.
func (c *Console) serveStatusz(w http.ResponseWriter, r *http.Request) {
	secure(w)
	if _, ok := c.auth.session(r); !ok && !c.auth.checkKey(r, bearer(r)) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="meshd console"`)
		writeError(w, http.StatusUnauthorized, "Unauthorized", "send an admin key as Authorization: Bearer KEY")
		return
	}
	now := time.Now()
	c.wantedUntil.Store(now.Add(idleAfter).UnixNano())
	_, data := c.sampler.current(now, Tick)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(data)
}

// serveStream pushes the status as Server-Sent Events, one per tick, until the page goes.
func (c *Console) serveStream(w http.ResponseWriter, r *http.Request, _ session) {
	ch := make(chan struct{}, 1)
	c.streamsMu.Lock()
	if len(c.streams) >= maxStreams {
		c.streamsMu.Unlock()
		writeError(w, http.StatusTooManyRequests, "TooManyStreams", "too many consoles are open")
		return
	}
	c.streams[ch] = struct{}{}
	c.streamsMu.Unlock()
	defer func() {
		c.streamsMu.Lock()
		delete(c.streams, ch)
		c.streamsMu.Unlock()
	}()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	h.Add("Vary", "Accept-Encoding")
	rc := http.NewResponseController(w)
	// One compressed stream for the whole view: each second's status repeats most of the
	// previous one, which the compressor's window mostly finds.
	var out io.Writer = w
	flush := func() error { return nil }
	if acceptsGzip(r) {
		h.Set("Content-Encoding", "gzip")
		gz, _ := gzip.NewWriterLevel(w, gzip.BestSpeed) // a valid level never fails
		defer gz.Close()
		out, flush = gz, gz.Flush
	}
	w.WriteHeader(http.StatusOK)
	send := func(data []byte) bool {
		// A server-wide write timeout must not cut a live view: each event gets its own.
		_ = rc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		for _, b := range [][]byte{[]byte("data: "), data, []byte("\n\n")} {
			if _, err := out.Write(b); err != nil {
				return false
			}
		}
		return flush() == nil && rc.Flush() == nil
	}
	if _, data := c.sampler.current(time.Now(), Tick); !send(data) {
		return
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case <-c.stop:
			return
		case <-ch:
			c.sampler.mu.Lock()
			data := c.sampler.latestJSON
			c.sampler.mu.Unlock()
			if !send(data) {
				return
			}
		}
	}
}

// acceptsGzip reports whether the request accepts a gzip-encoded answer.
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(coding), "gzip") && strings.TrimSpace(params) != "q=0" {
			return true
		}
	}
	return false
}

// serveDissolve dissolves a group as its host would: members get the same dissolve message.
func (c *Console) serveDissolve(w http.ResponseWriter, r *http.Request, _ session) {
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	var body struct {
		Domain  string `json:"domain"`
		GroupID string `json:"groupId"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Domain == "" || body.GroupID == "" {
		writeError(w, http.StatusBadRequest, "BadRequest", "body must be JSON {\"domain\": \"...\", \"groupId\": \"...\"}")
		return
	}
	svc := c.opts.Service
	g, err := svc.GetGroup(body.GroupID, body.Domain)
	if err != nil {
		writeError(w, http.StatusBadRequest, "ValidationError", err.Error())
		return
	}
	if g == nil {
		writeError(w, http.StatusNotFound, "GroupNotFound", "no live group "+body.GroupID+"@"+body.Domain)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	d, err := svc.DissolveGroup(ctx, g.ID, g.Domain, g.HostID)
	if err != nil {
		var be *broker.Error
		if errors.As(err, &be) && be.Kind == broker.GroupNotFound {
			writeError(w, http.StatusNotFound, "GroupNotFound", be.Message)
			return
		}
		c.opts.Logger.Error("console: dissolve failed", "group", g.ID, "domain", g.Domain, "err", err)
		writeError(w, http.StatusInternalServerError, "InternalError", "dissolve failed")
		return
	}
	c.opts.Logger.Info("console dissolved a group", "group", g.ID, "domain", g.Domain, "name", g.Name, "remote", r.RemoteAddr)
	writeJSON(w, http.StatusOK, map[string]string{"message": d.Message})
}

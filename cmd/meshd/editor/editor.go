// Package editor serves a built Smalruby editor from a directory on meshd's own origin. The
// JavaScript that carries the AppSync endpoint the build compiled in is served with meshd's
// endpoint instead, so a downloaded editor works unchanged; every file is served compressed
// where the browser allows, and content-hashed files are cached by browsers for a year. No
// dotfile is served, and the directory may not overlap meshd's data directory.
package editor

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// editorCacheBytes bounds the memory the editor's rewritten and compressed files may hold.
// The newest editor's JavaScript is about 20 MB, a few MB gzipped; a class reaching meshd by one
// name costs one rewritten copy and its gzip.
const editorCacheBytes = 128 << 20

// minCompressBytes is the smallest file worth compressing on the fly.
const minCompressBytes = 1024

// immutableAge is how long browsers keep a content-hashed file without asking again.
const immutableAge = 365 * 24 * time.Hour

// Config is what the editor's file server needs besides its directory.
type Config struct {
	// PublicURL is meshd's URL as browsers reach it (it must pass CheckPublicURL); empty makes
	// the editor take its endpoint from the origin its page was loaded from.
	PublicURL string
	// DataDir is meshd's data directory, which must not overlap the editor's (CheckDataDir).
	DataDir string
	// Log receives the rewrites and a warning when dir has no index.html; nil is slog.Default().
	Log *slog.Logger
}

// editor is the file server New returns.
type editor struct {
	root *os.Root
	// endpoint is what replaces the compiled-in AppSync endpoint literal, quotes and all.
	endpoint string
	log      *slog.Logger
	cache    *blobCache
}

// originEndpoint is the endpoint written into the editor without -public-url: an expression
// the browser evaluates to its page's own origin plus /graphql — the scheme and host the
// pupil's browser used, through any proxy — so that the rewritten file is the same for every
// request, whatever Host or X-Forwarded-Host it carries.
const originEndpoint = `(self.location.origin+"/graphql")`

// New serves the editor built into dir.
func New(dir string, cfg Config) (http.Handler, error) {
	log := cfg.Log
	if log == nil {
		log = slog.Default()
	}
	if err := CheckDataDir(dir, cfg.DataDir); err != nil {
		return nil, err
	}
	endpoint := originEndpoint
	if cfg.PublicURL != "" {
		endpoint = `"` + strings.TrimSuffix(cfg.PublicURL, "/") + `/graphql"`
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	if _, err := root.Stat("index.html"); err != nil {
		log.Warn("the -static directory has no index.html: pupils opening meshd's address get 404", "dir", dir, "hint", indexHint(dir))
	}
	return &editor{
		root:     root,
		endpoint: endpoint,
		log:      log,
		cache:    newBlobCache(editorCacheBytes),
	}, nil
}

// CheckDataDir refuses a data directory that overlaps the editor's directory dir: inside it,
// pupils could download the state file, the secret and the admin key; around it, every file
// served would be one of the data directory's. Both paths are compared absolute, with their
// symbolic links resolved as far as they exist.
func CheckDataDir(dir, dataDir string) error {
	if dataDir == "" {
		return nil
	}
	d, err := resolved(dir)
	if err != nil {
		return err
	}
	data, err := resolved(dataDir)
	if err != nil {
		return err
	}
	if within(data, d) || within(d, data) {
		return fmt.Errorf("the data directory %s and the editor's directory %s overlap: pupils could download the state file and the admin key; keep the data directory (-data-dir) outside the editor's", dataDir, dir)
	}
	return nil
}

// resolved is p made absolute, its longest existing prefix with symbolic links resolved.
func resolved(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	rest := ""
	for cur := abs; ; {
		if r, err := filepath.EvalSymlinks(cur); err == nil {
			return filepath.Join(r, rest), nil
		}
		parent := filepath.Dir(cur)
		if parent == cur {
			return abs, nil
		}
		rest = filepath.Join(filepath.Base(cur), rest)
		cur = parent
	}
}

// within reports whether path p is dir or lies below it.
func within(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// indexHint names a folder just below dir that holds index.html (unpacking a downloaded
// editor usually adds one level), or says there is none.
func indexHint(dir string) string {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.IsDir() {
			if _, err := os.Stat(filepath.Join(dir, e.Name(), "index.html")); err == nil {
				return "use " + filepath.Join(dir, e.Name())
			}
		}
	}
	return "no folder below it has one either"
}

// CheckPublicURL accepts an absolute http or https URL with a host and at most a path, and
// nothing that could end the JavaScript string it is written into.
func CheckPublicURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("%q is not an http:// or https:// URL with a host", s)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(s, "?") || strings.HasSuffix(s, "#") {
		return fmt.Errorf("%q: only scheme, host, port and path are allowed", s)
	}
	if strings.ContainsAny(s, "\"'`\\<> \t\r\n") {
		return fmt.Errorf("%q contains quotes, spaces or backslashes", s)
	}
	return nil
}

func (e *editor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD, OPTIONS")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
	if name == "" || strings.HasSuffix(r.URL.Path, "/") {
		name = path.Join(name, "index.html")
	}
	if hidden(name) {
		http.NotFound(w, r)
		return
	}
	f, err := e.root.Open(name)
	if err != nil {
		// Also a path that leaves the directory, through ".." or a symbolic link.
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		http.NotFound(w, r)
		return
	}
	if fi.IsDir() {
		// Relative, so that it also holds behind a proxy that serves meshd under a path.
		w.Header().Set("Location", url.PathEscape(path.Base(name))+"/")
		w.WriteHeader(http.StatusMovedPermanently)
		return
	}
	h := w.Header()
	ctype := contentType(name)
	if ctype != "" {
		h.Set("Content-Type", ctype)
	}
	h.Set("Cache-Control", cacheControl(name))
	compressible := isCompressible(ctype)
	if compressible {
		h.Add("Vary", "Accept-Encoding")
	}
	ver := fileVersion(name, fi)
	if isJavaScript(name) {
		if e.serveRewritten(w, r, f, fi.ModTime(), ver) {
			return
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			http.Error(w, "read error", http.StatusInternalServerError)
			return
		}
	}
	accept := r.Header.Get("Accept-Encoding")
	for _, enc := range []struct{ name, ext string }{{"br", ".br"}, {"gzip", ".gz"}} {
		if !compressible || !accepts(accept, enc.name) {
			continue
		}
		if pf, pfi, ok := e.precompressed(name+enc.ext, fi); ok {
			defer pf.Close()
			h.Set("Content-Encoding", enc.name)
			h.Set("ETag", etag(fileVersion(name+enc.ext, pfi), enc.name))
			http.ServeContent(w, r, name, fi.ModTime(), pf)
			return
		}
	}
	if compressible && fi.Size() >= minCompressBytes && accepts(accept, "gzip") {
		gz, err := e.cache.get("gzip "+ver, func() ([]byte, error) {
			raw, err := io.ReadAll(f)
			if err != nil {
				return nil, err
			}
			return gzipBytes(raw), nil
		})
		if err != nil {
			http.Error(w, "read error", http.StatusInternalServerError)
			return
		}
		h.Set("Content-Encoding", "gzip")
		h.Set("ETag", etag(ver, "gzip"))
		http.ServeContent(w, r, name, fi.ModTime(), bytes.NewReader(gz))
		return
	}
	h.Set("ETag", etag(ver, ""))
	http.ServeContent(w, r, name, fi.ModTime(), f)
}

// serveRewritten answers with the JavaScript file f rewritten to meshd's endpoint when it holds
// the compiled-in AppSync endpoint, and reports whether it did. Precompressed copies of such a
// file are never served: they still carry the AppSync endpoint. The rewritten file is the same
// for every request, so its cost does not depend on anything a client sends.
func (e *editor) serveRewritten(w http.ResponseWriter, r *http.Request, f *os.File, mod time.Time, ver string) bool {
	read := func() ([]byte, error) {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
		return io.ReadAll(f)
	}
	plain, err := e.cache.get("rewritten "+ver, func() ([]byte, error) {
		raw, err := read()
		if err != nil {
			return nil, err
		}
		out, n := rewriteEndpoints(raw, e.endpoint)
		if n == 0 {
			return []byte{}, nil
		}
		e.log.Info("editor endpoint rewritten", "file", ver, "places", n, "endpoint", e.endpoint)
		return out, nil
	})
	if err != nil {
		http.Error(w, "read error", http.StatusInternalServerError)
		return true
	}
	if len(plain) == 0 {
		return false
	}
	h := w.Header()
	representation := "rewritten"
	body := plain
	if accepts(r.Header.Get("Accept-Encoding"), "gzip") {
		body, _ = e.cache.get("rewritten gzip "+ver, func() ([]byte, error) { return gzipBytes(plain), nil })
		h.Set("Content-Encoding", "gzip")
		representation += "-gzip"
	}
	h.Set("ETag", etag(ver, representation))
	http.ServeContent(w, r, "", mod, bytes.NewReader(body))
	return true
}

// staleAfter is how much older than its file a precompressed copy may be and still be served.
// Copies written or copied together (a build, cp -r, unzip) lie within it, in any order; a copy
// older than that was left behind when the file was rebuilt or edited.
const staleAfter = time.Minute

// precompressed opens a precompressed copy of a file when it is there and not stale.
func (e *editor) precompressed(name string, orig fs.FileInfo) (*os.File, fs.FileInfo, bool) {
	f, err := e.root.Open(name)
	if err != nil {
		return nil, nil, false
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.ModTime().Before(orig.ModTime().Add(-staleAfter)) {
		f.Close()
		return nil, nil, false
	}
	return f, fi, true
}

// hidden reports whether a path names a dotfile or lies in a dot-directory (.git, .env,
// .htpasswd): never part of a built editor, often a secret.
func hidden(name string) bool {
	for _, seg := range strings.Split(name, "/") {
		if strings.HasPrefix(seg, ".") {
			return true
		}
	}
	return false
}

// The fixed parts of an AppSync endpoint, https://<id>.appsync-api.<region>.amazonaws.com/graphql.
const (
	appSyncAPI    = ".appsync-api."
	appSyncSuffix = ".amazonaws.com/graphql"
)

// rewriteEndpoints replaces every AppSync GraphQL endpoint written as a JavaScript string
// literal — "https://<id>.appsync-api.<region>.amazonaws.com/graphql" in double, single or back
// quotes, as webpack's DefinePlugin and minifiers leave it — quotes and all, with the
// JavaScript expression to, and says how many it replaced. It runs in one pass, in time linear
// in len(src); src is not modified.
func rewriteEndpoints(src []byte, to string) ([]byte, int) {
	var out []byte
	n, last := 0, 0
	for i := 0; ; {
		j := bytes.Index(src[i:], []byte("https://"))
		if j < 0 {
			break
		}
		start := i + j
		i = start + 1
		end, ok := matchEndpoint(src, start)
		if !ok || start-1 < last {
			// Not a literal, or its opening quote closed the one replaced before.
			continue
		}
		if out == nil {
			out = make([]byte, 0, len(src)+len(to))
		}
		out = append(out, src[last:start-1]...)
		out = append(out, to...)
		last, i = end+1, end+1
		n++
	}
	if n == 0 {
		return src, 0
	}
	return append(out, src[last:]...), n
}

// matchEndpoint reports whether an AppSync endpoint literal's URL starts at src[start], opened
// by a quote just before it and closed by the same quote just after, and returns the index of
// that closing quote.
func matchEndpoint(src []byte, start int) (int, bool) {
	if start == 0 {
		return 0, false
	}
	quote := src[start-1]
	if quote != '"' && quote != '\'' && quote != '`' {
		return 0, false
	}
	i := start + len("https://")
	id := i
	for i < len(src) && (src[i] >= 'a' && src[i] <= 'z' || src[i] >= '0' && src[i] <= '9') {
		i++
	}
	if i == id || !bytes.HasPrefix(src[i:], []byte(appSyncAPI)) {
		return 0, false
	}
	i += len(appSyncAPI)
	region := i
	for i < len(src) && (src[i] >= 'a' && src[i] <= 'z' || src[i] >= '0' && src[i] <= '9' || src[i] == '-') {
		i++
	}
	if i == region || !bytes.HasPrefix(src[i:], []byte(appSyncSuffix)) {
		return 0, false
	}
	i += len(appSyncSuffix)
	if i >= len(src) || src[i] != quote {
		return 0, false
	}
	return i, true
}

// contentType is the file's media type by its extension; JavaScript is always UTF-8 text.
func contentType(name string) string {
	if isJavaScript(name) {
		return "text/javascript; charset=utf-8"
	}
	switch path.Ext(name) {
	case ".map":
		return "application/json"
	case ".webmanifest":
		return "application/manifest+json"
	}
	return mime.TypeByExtension(path.Ext(name))
}

func isJavaScript(name string) bool {
	ext := path.Ext(name)
	return ext == ".js" || ext == ".mjs"
}

func isCompressible(ctype string) bool {
	media, _, _ := strings.Cut(ctype, ";")
	switch media {
	case "application/javascript", "application/json", "application/manifest+json", "application/wasm", "image/svg+xml", "application/xml":
		return true
	}
	return strings.HasPrefix(media, "text/")
}

// cacheControl lets browsers keep content-hashed files for a year and makes them revalidate
// everything else (index.html, service-worker.js, unhashed chunks) on every load.
func cacheControl(name string) string {
	if contentHashed(path.Base(name)) {
		return fmt.Sprintf("public, max-age=%d, immutable", int(immutableAge.Seconds()))
	}
	return "no-cache"
}

// contentHashed reports whether a file name carries a content hash, as webpack writes it: a run
// of at least 8 hex digits, with a digit among them, between dots or after a dash
// (gui.445a92d20b02b9e69766.js, workbox-24d5432a.js).
func contentHashed(base string) bool {
	for i := 0; i < len(base); i++ {
		if i > 0 && base[i-1] != '.' && base[i-1] != '-' {
			continue
		}
		j, digit := i, false
		for j < len(base) && (base[j] >= '0' && base[j] <= '9' || base[j] >= 'a' && base[j] <= 'f') {
			digit = digit || base[j] <= '9'
			j++
		}
		if j-i >= 8 && digit && j < len(base) && base[j] == '.' {
			return true
		}
	}
	return false
}

// accepts reports whether an Accept-Encoding header allows enc (a q of 0 refuses it).
func accepts(header, enc string) bool {
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), enc) && strings.TrimSpace(name) != "*" {
			continue
		}
		q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
		return !(strings.HasPrefix(q, "q=0") && strings.Trim(q[len("q=0"):], ".0") == "")
	}
	return false
}

// fileVersion identifies one state of a file: its name, size and modification time.
func fileVersion(name string, fi fs.FileInfo) string {
	return fmt.Sprintf("%s %x %x", name, fi.Size(), fi.ModTime().UnixNano())
}

// etag is a strong validator for one representation of a file version.
func etag(ver, representation string) string {
	t := fmt.Sprintf("%x", fnv64(ver))
	if representation != "" {
		t += "-" + representation
	}
	return `"` + t + `"`
}

func fnv64(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

func gzipBytes(raw []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write(raw)
	zw.Close()
	return buf.Bytes()
}

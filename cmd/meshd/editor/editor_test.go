package editor

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// awsEndpoint is an endpoint as an editor build compiles it in.
const awsEndpoint = "https://mpe3yhgk6zdxfhjbay2vqcq5qe.appsync-api.ap-northeast-1.amazonaws.com/graphql"

// definePluginBundle is JavaScript shaped the way the editor's webpack build leaves it:
// DefinePlugin replaces process.env.MESH_GRAPHQL_ENDPOINT by a plain string literal (the value
// the build was given, "" when none, in double quotes), the source's fallback to the production
// endpoint keeps its single quotes, and the SDK's own code mentions AppSync hosts in ways that
// are not the endpoint.
// Both arguments are JavaScript expressions: aws(awsEndpoint) as the build leaves them, or
// what meshd writes in their place.
func definePluginBundle(defined, fallback string) string {
	return `(()=>{"use strict";var e={};` +
		`const GRAPHQL_ENDPOINT=` + defined + `||` + fallback + `,REGION=""||"ap-northeast-1",API_KEY=""||"da2-compiledinkey";` +
		`e.realtime=function(u){return u.replace("appsync-api","appsync-realtime-api").replace("https://","wss://")};` +
		`e.doc="see https://docs.aws.amazon.com/appsync/ and https://x.appsync-api.us-east-1.amazonaws.com/graphql/realtime";` +
		`e.isAws=/^https:\/\/\w{26}\.appsync-api\.\w{2}(?:(?:-\w{2,})+)-\d\.amazonaws.com\/graphql$/i;` +
		`window.MESH={url:GRAPHQL_ENDPOINT,region:REGION,key:API_KEY};` +
		strings.Repeat("/* padding so that compression is worth it */", 64) + `})();`
}

// prebuilt is the bundle of an editor built with no MESH_GRAPHQL_ENDPOINT: the fallback, the
// expression endpoint, is used.
func prebuilt(endpoint string) string { return definePluginBundle(`""`, endpoint) }

// aws is the endpoint literal the source's fallback leaves in single quotes.
func aws(endpoint string) string { return `'` + endpoint + `'` }

func TestRewriteEndpoints(t *testing.T) {
	const to = originEndpoint
	tests := []struct {
		name, in, want string
		n              int
	}{
		{"double quotes", `a="` + awsEndpoint + `";`, `a=` + to + `;`, 1},
		{"single quotes", `a='` + awsEndpoint + `'`, `a=` + to, 1},
		{"template literal", "a=`" + awsEndpoint + "`", "a=" + to, 1},
		{"two literals back to back", `"` + awsEndpoint + `""` + awsEndpoint + `"`, to + to, 2},
		{"sharing a quote", `"` + awsEndpoint + `"` + awsEndpoint + `"`, to + awsEndpoint + `"`, 1},
		{"DefinePlugin output", definePluginBundle(`"`+awsEndpoint+`"`, aws(awsEndpoint)), definePluginBundle(to, to), 2},
		{"prebuilt", prebuilt(aws(awsEndpoint)), prebuilt(to), 1},
		{"a public URL", prebuilt(aws(awsEndpoint)), prebuilt(`"http://meshd.lan/graphql"`), 1},
		{"mismatched quotes", `"` + awsEndpoint + `'`, `"` + awsEndpoint + `'`, 0},
		{"no quote before", `x` + awsEndpoint + `"`, `x` + awsEndpoint + `"`, 0},
		{"at the very start", awsEndpoint + `"`, awsEndpoint + `"`, 0},
		{"unterminated", `"` + awsEndpoint, `"` + awsEndpoint, 0},
		{"realtime path", `"` + awsEndpoint + `/realtime"`, `"` + awsEndpoint + `/realtime"`, 0},
		{"realtime host", `"https://abc.appsync-realtime-api.ap-northeast-1.amazonaws.com/graphql"`, `"https://abc.appsync-realtime-api.ap-northeast-1.amazonaws.com/graphql"`, 0},
		{"upper-case id", `"https://ABC.appsync-api.ap-northeast-1.amazonaws.com/graphql"`, `"https://ABC.appsync-api.ap-northeast-1.amazonaws.com/graphql"`, 0},
		{"empty id", `"https://.appsync-api.ap-northeast-1.amazonaws.com/graphql"`, `"https://.appsync-api.ap-northeast-1.amazonaws.com/graphql"`, 0},
		{"empty region", `"https://abc.appsync-api..amazonaws.com/graphql"`, `"https://abc.appsync-api..amazonaws.com/graphql"`, 0},
		{"http", `"http://abc.appsync-api.ap-northeast-1.amazonaws.com/graphql"`, `"http://abc.appsync-api.ap-northeast-1.amazonaws.com/graphql"`, 0},
		{"custom domain", `"https://graphql.api.smalruby.app/graphql"`, `"https://graphql.api.smalruby.app/graphql"`, 0},
		{"nothing", ``, ``, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			to := to
			if tt.name == "a public URL" {
				to = `"http://meshd.lan/graphql"`
			}
			got, n := rewriteEndpoints([]byte(tt.in), to)
			if string(got) != tt.want || n != tt.n {
				t.Fatalf("rewrite = %.300q, %d\nwant     %.300q, %d", got, n, tt.want, tt.n)
			}
		})
	}
}

// FuzzRewriteEndpoints checks the rewriter on any input: it only ever replaces endpoint
// literals, leaves none behind, changes nothing else and is done after one pass.
func FuzzRewriteEndpoints(f *testing.F) {
	f.Add([]byte(definePluginBundle(`"`+awsEndpoint+`"`, aws(awsEndpoint))))
	f.Add([]byte(`"` + awsEndpoint + `"` + awsEndpoint + `'` + awsEndpoint + `'`))
	f.Add([]byte(`'https://a.appsync-api.b.amazonaws.com/graphql'`))
	f.Add([]byte(`"https://https://a.appsync-api.-.amazonaws.com/graphql"`))
	f.Fuzz(func(t *testing.T, src []byte) {
		const to = originEndpoint
		orig := bytes.Clone(src)
		out, n := rewriteEndpoints(src, to)
		if !bytes.Equal(src, orig) {
			t.Fatal("the input was modified")
		}
		if n == 0 && !bytes.Equal(out, src) {
			t.Fatalf("nothing replaced but the output differs: %q", out)
		}
		if n > bytes.Count(src, []byte("https://")) {
			t.Fatalf("%d replacements for %d https:// in the input", n, bytes.Count(src, []byte("https://")))
		}
		if again, m := rewriteEndpoints(out, to); m != 0 || !bytes.Equal(again, out) {
			t.Fatalf("a second pass replaced %d more in %q", m, out)
		}
		// Each replacement adds exactly one endpoint, and only endpoints were touched.
		if c := bytes.Count(out, []byte(to)) - bytes.Count(src, []byte(to)); c != n {
			t.Fatalf("%d more endpoints in the output, %d replacements", c, n)
		}
	})
}

// editorDir writes a synthetic editor build: index.html, a content-hashed bundle with the
// compiled-in endpoint, an unhashed chunk, a stylesheet with fresh precompressed copies, and
// precompressed copies of the bundle that still carry the AWS endpoint.
func editorDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	css := strings.Repeat("body{margin:0}", 200)
	files := map[string]string{
		"index.html":                     `<!doctype html><title>Smalruby</title><script src="gui.0123abcd4567ef890123.js"></script>`,
		"gui.0123abcd4567ef890123.js":    prebuilt(aws(awsEndpoint)),
		"gui.0123abcd4567ef890123.js.gz": string(gzipBytes([]byte(prebuilt(aws(awsEndpoint))))),
		"gui.0123abcd4567ef890123.js.br": "brotli bytes that still say " + awsEndpoint,
		"chunks/fetch-worker.js":         strings.Repeat("self.onmessage=function(){};", 100),
		"static/style.css":               css,
		"static/style.css.gz":            string(gzipBytes([]byte(css))),
		"static/style.css.br":            "pretend brotli of the stylesheet",
		"static/old.css":                 css,
		"static/old.css.gz":              "stale",
		"static/blocks-media/a.svg":      `<svg xmlns="http://www.w3.org/2000/svg"/>`,
		".env":                           "SECRET=dotfile",
		".git/config":                    "[remote] secret",
		"static/.htpasswd":               "secret:x",
	}
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The stale copy is older than its file.
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(filepath.Join(dir, "static", "old.css.gz"), old, old); err != nil {
		t.Fatal(err)
	}
	return dir
}

// logCounter counts log records by message.
type logCounter struct {
	mu   sync.Mutex
	msgs map[string]int
}

func (l *logCounter) Enabled(context.Context, slog.Level) bool { return true }

func (l *logCounter) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msgs[r.Message]++
	return nil
}
func (l *logCounter) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logCounter) WithGroup(string) slog.Handler      { return l }
func (l *logCounter) count(msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.msgs[msg]
}

func startEditor(t *testing.T, dir, publicURL string) (*httptest.Server, *logCounter) {
	t.Helper()
	logs := &logCounter{msgs: map[string]int{}}
	ed, err := New(dir, Config{PublicURL: publicURL, Log: slog.New(logs)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ed)
	t.Cleanup(srv.Close)
	return srv, logs
}

// fetched is one response, its body decoded when it came compressed.
type fetched struct {
	status int
	header http.Header
	raw    []byte // as it came over the wire
	body   []byte // decoded
}

// fetch sends a GET with exactly the headers given; the transport adds no Accept-Encoding.
func fetch(t *testing.T, url string, header ...string) fetched {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i] == "Host" {
			req.Host = header[i+1]
			continue
		}
		req.Header.Set(header[i], header[i+1])
	}
	client := &http.Client{
		Transport:     &http.Transport{DisableCompression: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	f := fetched{status: resp.StatusCode, header: resp.Header, raw: raw, body: raw}
	if resp.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("gzip body: %v", err)
		}
		if f.body, err = io.ReadAll(zr); err != nil {
			t.Fatalf("gzip body: %v", err)
		}
	}
	return f
}

const bundle = "/gui.0123abcd4567ef890123.js"

func TestEditorRewritesTheCompiledInEndpoint(t *testing.T) {
	srv, logs := startEditor(t, editorDir(t), "")
	want := prebuilt(originEndpoint)
	tests := []struct {
		name, acceptEncoding, encoding string
	}{
		{"no Accept-Encoding", "", ""},
		{"gzip", "gzip", "gzip"},
		{"brotli and gzip: the precompressed copies carry the AWS endpoint", "br, gzip", "gzip"},
		{"brotli only", "br", ""},
		{"gzip refused", "gzip;q=0, identity", ""},
	}
	etags := map[string]string{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := fetch(t, srv.URL+bundle, "Accept-Encoding", tt.acceptEncoding)
			if r.status != 200 || string(r.body) != want {
				t.Fatalf("%d %.300s\nwant %.300s", r.status, r.body, want)
			}
			if bytes.Contains(r.raw, []byte("appsync-api.ap-northeast-1")) && tt.encoding == "" {
				t.Fatal("the AWS endpoint is still in the served bundle")
			}
			h := r.header
			if h.Get("Content-Encoding") != tt.encoding || h.Get("Vary") != "Accept-Encoding" ||
				h.Get("Content-Type") != "text/javascript; charset=utf-8" || h.Get("Cache-Control") != "public, max-age=31536000, immutable" {
				t.Fatalf("headers %v", h)
			}
			etags[tt.encoding] = h.Get("ETag")
		})
	}
	if etags[""] == "" || etags[""] == etags["gzip"] {
		t.Fatalf("ETags %v: each representation needs its own", etags)
	}
	if r := fetch(t, srv.URL+bundle, "Accept-Encoding", "gzip", "If-None-Match", etags["gzip"]); r.status != http.StatusNotModified {
		t.Fatalf("revalidation = %d", r.status)
	}
	// Eleven fetches, one rewrite: later requests are served from the cache.
	if n := logs.count("editor endpoint rewritten"); n != 1 {
		t.Fatalf("the bundle was rewritten %d times", n)
	}
}

// Without -public-url the editor takes its endpoint from its page's origin: what a client puts
// in Host or X-Forwarded-Host changes neither the answer nor its cost — one rewrite for 50
// made-up hosts, one cached copy, one ETag (before, each host cost a rewrite and a gzip of the
// bundle and evicted the class's copy, and an immutable answer varied on a forwarded host).
func TestEditorEndpointFromRequestOrSetting(t *testing.T) {
	dir := editorDir(t)
	derived, logs := startEditor(t, dir, "")
	public, _ := startEditor(t, dir, "https://mesh.school.example/meshd/")
	etags := map[string]bool{}
	for i := range 50 {
		r := fetch(t, derived.URL+bundle, "Host", fmt.Sprintf("made-up-%d.example", i),
			"X-Forwarded-Host", fmt.Sprintf(`x%d";alert(1);"`, i), "X-Forwarded-Proto", "https", "Accept-Encoding", "gzip")
		if r.status != 200 || string(r.body) != prebuilt(originEndpoint) {
			t.Fatalf("host %d: %d %.300s", i, r.status, r.body)
		}
		etags[r.header.Get("ETag")] = true
	}
	if n := logs.count("editor endpoint rewritten"); n != 1 || len(etags) != 1 {
		t.Fatalf("50 hosts: %d rewrites, %d ETags; want one of each", n, len(etags))
	}
	if r := fetch(t, public.URL+bundle, "Host", "ignored.lan"); r.status != 200 || string(r.body) != prebuilt(`"https://mesh.school.example/meshd/graphql"`) {
		t.Fatalf("public URL: %d %.300s", r.status, r.body)
	}
}

// A data directory that overlaps the editor's is refused: inside it, pupils could download
// the state file and the admin key.
func TestCheckDataDir(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	sibling := t.TempDir()
	for _, tt := range []struct {
		name, data string
		ok         bool
	}{
		{"the default inside the editor", filepath.Join(dir, "meshd-data"), false},
		{"the editor itself", dir, false},
		{"deeper inside", filepath.Join(dir, "a", "b"), false},
		{"inside, through a symbolic link", filepath.Join(link, "meshd-data"), false},
		{"around the editor", filepath.Dir(dir), false},
		{"beside it", sibling, true},
		{"a name that only starts the same", dir + "-data", true},
		{"none", "", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckDataDir(dir, tt.data)
			if (err == nil) != tt.ok {
				t.Fatalf("CheckDataDir(%s, %s) = %v", dir, tt.data, err)
			}
			if _, err := New(dir, Config{DataDir: tt.data, Log: slog.New(slog.DiscardHandler)}); (err == nil) != tt.ok {
				t.Fatalf("New with -data-dir %s: %v", tt.data, err)
			}
		})
	}
}

func TestEditorStaticFiles(t *testing.T) {
	dir := editorDir(t)
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o600)
	if err := os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	srv, _ := startEditor(t, dir, "")
	css := strings.Repeat("body{margin:0}", 200)
	tests := []struct {
		name           string
		path           string
		acceptEncoding string
		status         int
		body           string
		encoding       string
		cacheControl   string
	}{
		{"index", "/", "gzip", 200, "", "", "no-cache"},
		{"index by name", "/index.html", "", 200, "", "", "no-cache"},
		{"precompressed brotli", "/static/style.css", "gzip, br", 200, "pretend brotli of the stylesheet", "br", "no-cache"},
		{"precompressed gzip", "/static/style.css", "gzip", 200, css, "gzip", "no-cache"},
		{"identity", "/static/style.css", "", 200, css, "", "no-cache"},
		{"stale precompressed copy is ignored", "/static/old.css", "gzip", 200, css, "gzip", "no-cache"},
		{"compressed on the fly", "/chunks/fetch-worker.js", "gzip", 200, strings.Repeat("self.onmessage=function(){};", 100), "gzip", "no-cache"},
		{"too small to compress", "/static/blocks-media/a.svg", "gzip", 200, `<svg xmlns="http://www.w3.org/2000/svg"/>`, "", "no-cache"},
		{"missing", "/nope.js", "", 404, "", "", ""},
		{"dot-dot", "/../secret", "", 404, "", "", ""},
		{"encoded dot-dot", "/%2e%2e/%2e%2e/secret", "", 404, "", "", ""},
		{"symbolic link out of the directory", "/link", "", 404, "", "", ""},
		{"dotfile", "/.env", "", 404, "", "", ""},
		{"dot-directory", "/.git/config", "", 404, "", "", ""},
		{"dotfile below", "/static/.htpasswd", "", 404, "", "", ""},
		{"encoded dotfile", "/%2eenv", "", 404, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := fetch(t, srv.URL+tt.path, "Accept-Encoding", tt.acceptEncoding)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %.200s", r.status, tt.status, r.body)
			}
			if tt.status != 200 {
				if bytes.Contains(r.body, []byte("secret")) {
					t.Fatal("served a secret: a file from outside the directory or a dotfile")
				}
				return
			}
			if tt.body != "" && string(r.body) != tt.body {
				t.Fatalf("body %.200q", r.body)
			}
			if r.header.Get("Content-Encoding") != tt.encoding || r.header.Get("Cache-Control") != tt.cacheControl || r.header.Get("ETag") == "" {
				t.Fatalf("headers %v", r.header)
			}
		})
	}
	index := fetch(t, srv.URL+"/")
	if !strings.Contains(string(index.body), "<title>Smalruby</title>") {
		t.Fatalf("index = %q", index.body)
	}
	if r := fetch(t, srv.URL+"/", "If-None-Match", index.header.Get("ETag")); r.status != http.StatusNotModified {
		t.Fatalf("index revalidation = %d", r.status)
	}
	if r := fetch(t, srv.URL+"/static"); r.status != http.StatusMovedPermanently || r.header.Get("Location") != "static/" {
		t.Fatalf("directory without slash = %d %v", r.status, r.header)
	}
	if r := fetch(t, srv.URL+"/static/blocks-media"); r.status != http.StatusMovedPermanently || r.header.Get("Location") != "blocks-media/" {
		t.Fatalf("directory without slash = %d %v", r.status, r.header)
	}
	if r := fetch(t, srv.URL+"/static/"); r.status != 404 {
		t.Fatalf("directory without index.html = %d", r.status)
	}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/index.html", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST = %v %v", resp, err)
	}
}

func TestContentHashed(t *testing.T) {
	for name, want := range map[string]bool{
		"gui.445a92d20b02b9e69766.js":                       true,
		"1ea5611d39d44437d116.worker.js":                    true,
		"workbox-24d5432a.js":                               true,
		"icon_128x128.168bfd7d90dc8e7e6933c1491e880a7f.png": true,
		"manifest.146f663e812e9b1b4c6c25097ad6a8e4.json":    true,
		"gui.js":                       false,
		"index.html":                   false,
		"service-worker.js":            false,
		"ja-steps.js":                  false,
		"deadbeefcafe.js":              false, // hex, but no digit: a word, not a hash
		"gui.0123abc.js":               false, // 7 digits
		"x.0123abcd4567":               false, // the hash is the extension
		"face_detection_solution_1.js": false,
	} {
		if got := contentHashed(name); got != want {
			t.Errorf("contentHashed(%q) = %v", name, got)
		}
	}
}

func TestAccepts(t *testing.T) {
	for _, tt := range []struct {
		header, enc string
		want        bool
	}{
		{"gzip, deflate, br", "gzip", true},
		{"gzip, deflate, br", "br", true},
		{"GZIP", "gzip", true},
		{"gzip;q=0", "gzip", false},
		{"gzip; q=0.000", "gzip", false},
		{"gzip;q=0.5", "gzip", true},
		{"*", "gzip", true},
		{"identity", "gzip", false},
		{"", "gzip", false},
	} {
		if got := accepts(tt.header, tt.enc); got != tt.want {
			t.Errorf("accepts(%q, %q) = %v", tt.header, tt.enc, got)
		}
	}
}

func TestCheckPublicURL(t *testing.T) {
	for _, good := range []string{"http://meshd.school.lan:8080", "https://mesh.example/meshd/", "http://192.168.1.20"} {
		if err := CheckPublicURL(good); err != nil {
			t.Errorf("%s: %v", good, err)
		}
	}
	for _, bad := range []string{"meshd.lan:8080", "ftp://x", "http://", "http://a/?x=1", "http://a/#f", `http://a/"`, "http://u:p@a/"} {
		if err := CheckPublicURL(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestBlobCache(t *testing.T) {
	c := newBlobCache(10)
	var builds atomic.Int32
	build := func(n int) func() ([]byte, error) {
		return func() ([]byte, error) { builds.Add(1); return make([]byte, n), nil }
	}
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if b, _ := c.get("a", build(4)); len(b) != 4 {
				t.Errorf("got %d bytes", len(b))
			}
		}()
	}
	wg.Wait()
	if builds.Load() != 1 {
		t.Fatalf("20 concurrent gets built %d times", builds.Load())
	}
	c.get("b", build(4))
	c.get("a", build(4)) // a is now the most recently used
	c.get("c", build(4)) // 12 bytes: b goes
	if _, ok := c.byKey["b"]; ok || c.size != 8 {
		t.Fatalf("after eviction: size %d, keys %v", c.size, c.byKey)
	}
	if b, _ := c.get("huge", build(11)); len(b) != 11 || c.byKey["huge"] != nil || c.size != 8 {
		t.Fatalf("an entry larger than the cache is returned but not kept: size %d", c.size)
	}
	if _, err := c.get("fails", func() ([]byte, error) { return nil, fmt.Errorf("boom") }); err == nil || c.byKey["fails"] != nil {
		t.Fatal("a failed build must not be kept")
	}
}

// BenchmarkRewriteEndpoints rewrites a bundle of the newest editor's size (about 20 MB).
func BenchmarkRewriteEndpoints(b *testing.B) {
	src := []byte(strings.Repeat(prebuilt(aws(awsEndpoint)), 20<<20/len(prebuilt(aws(awsEndpoint)))))
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		rewriteEndpoints(src, originEndpoint)
	}
}

// BenchmarkGzipBundle compresses the same bundle, as the first request for it does.
func BenchmarkGzipBundle(b *testing.B) {
	src := []byte(strings.Repeat(prebuilt(aws(awsEndpoint)), 20<<20/len(prebuilt(aws(awsEndpoint)))))
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		gzipBytes(src)
	}
}

func TestEditorWarnsWithoutIndex(t *testing.T) {
	parent := t.TempDir()
	nested := filepath.Join(parent, "smalruby.app-gh-pages")
	os.MkdirAll(nested, 0o755)
	os.WriteFile(filepath.Join(nested, "index.html"), []byte("<title>Smalruby</title>"), 0o644)
	var buf bytes.Buffer
	if _, err := New(parent, Config{Log: slog.New(slog.NewTextHandler(&buf, nil))}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "has no index.html") || !strings.Contains(buf.String(), "use "+nested) {
		t.Fatalf("log = %s", buf.String())
	}
	buf.Reset()
	if _, err := New(nested, Config{Log: slog.New(slog.NewTextHandler(&buf, nil))}); err != nil || buf.Len() != 0 {
		t.Fatalf("a directory with index.html: %v, log %q", err, buf.String())
	}
}

// FuzzAccepts checks the Accept-Encoding parser on any header: it never panics, and a header
// naming only the encoding always accepts it.
func FuzzAccepts(f *testing.F) {
	for _, h := range []string{"gzip, deflate, br", "gzip;q=0", "*;q=0.5", "br;q=0.000, gzip ; q = 0 ", ",,;;=="} {
		f.Add(h)
	}
	f.Fuzz(func(t *testing.T, header string) {
		accepts(header, "gzip")
		accepts(header, "br")
		if !accepts("gzip", "gzip") || accepts("gzip;q=0", "gzip") {
			t.Fatal("the parser's basic answers changed")
		}
	})
}

// FuzzEditorPath requests any path from the editor: it never serves a file from outside its
// directory and never fails with a server error.
func FuzzEditorPath(f *testing.F) {
	outside := f.TempDir()
	os.WriteFile(filepath.Join(outside, "secret"), []byte("outside-secret"), 0o600)
	dir := f.TempDir()
	os.WriteFile(filepath.Join(dir, "index.html"), []byte("<title>Smalruby</title>"), 0o644)
	os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "link"))
	os.Symlink(outside, filepath.Join(dir, "out"))
	ed, err := New(dir, Config{Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range []string{"/", "/../secret", "/link", "/out/secret", "/%2e%2e/secret", "//out//secret", "/index.html/", "/./out/../out/secret"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.URL.Path = p
		rec := httptest.NewRecorder()
		ed.ServeHTTP(rec, req)
		if strings.Contains(rec.Body.String(), "outside-secret") {
			t.Fatalf("%q served a file from outside the directory", p)
		}
		if rec.Code >= 500 {
			t.Fatalf("%q: %d %s", p, rec.Code, rec.Body)
		}
	})
}

// TestPrebuiltFixture keeps testdata/prebuilt, the editor cmd/meshd's real-client test serves,
// the same as the bundle these tests build.
func TestPrebuiltFixture(t *testing.T) {
	got, err := os.ReadFile(filepath.Join("testdata", "prebuilt", bundle[1:]))
	if err != nil || string(got) != prebuilt(aws(awsEndpoint)) {
		t.Fatalf("testdata/prebuilt%s differs from prebuilt(aws(awsEndpoint)): %v", bundle, err)
	}
}

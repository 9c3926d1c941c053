package metrics

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// value is the value of a counter or gauge.
func value(t *testing.T, c prometheus.Metric) float64 {
	t.Helper()
	var pb dto.Metric
	if err := c.Write(&pb); err != nil {
		t.Fatal(err)
	}
	if pb.Counter != nil {
		return pb.Counter.GetValue()
	}
	return pb.Gauge.GetValue()
}

func TestLastCommitErrorMetrics(t *testing.T) {
	m := New(Build{Version: "(devel)"})
	if value(t, m.lastFailed) != 0 || value(t, m.lastErrAt) != 0 {
		t.Fatal("a failure before any commit")
	}
	before := float64(time.Now().Unix())
	m.ObserveCommit(time.Millisecond, 3, errors.New("disk full"))
	if value(t, m.lastFailed) != 1 || value(t, m.lastErrAt) < before || value(t, m.commitErrs) != 1 {
		t.Fatal("after a failed commit: not counted, or not marked failed")
	}
	m.ObserveCommit(time.Millisecond, 3, nil)
	if value(t, m.lastFailed) != 0 || value(t, m.lastErrAt) < before || value(t, m.commitOps) != 3 {
		t.Fatal("a successful commit does not clear the failure, or forgets when it was")
	}
}

func TestStatusRecorder(t *testing.T) {
	m := New(Build{Version: "(devel)"})
	h := m.CountResponses(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/teapot":
			w.WriteHeader(http.StatusTeapot)
			w.Write([]byte("short and stout"))
		case "/write":
			w.Write([]byte("x"))
		case "/hijack":
			conn, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			conn.Close()
		}
	}))
	// The hijacked request's client sees its connection end before the count is taken: wait
	// for the handler.
	hijacked := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		if r.URL.Path == "/hijack" {
			close(hijacked)
		}
	}))
	defer srv.Close()
	for _, path := range []string{"/teapot", "/write", "/nothing"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	// POST, which the client does not retry on the connection the handler closes.
	if resp, err := http.Post(srv.URL+"/hijack", "text/plain", nil); err == nil {
		resp.Body.Close()
	}
	<-hijacked
	for code, want := range map[string]float64{"418": 1, "200": 2, "101": 1} {
		if got := value(t, m.responses.WithLabelValues(code)); got != want {
			t.Errorf("code %s counted %v times, want %v", code, got, want)
		}
	}
}

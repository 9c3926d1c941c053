package serving

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// The read deadline ends with the body: a handler that runs past it, as a query may up to
// -request-timeout or the console's event stream does, keeps its request.
func TestReadDeadlineEndsWithTheBody(t *testing.T) {
	const read = 200 * time.Millisecond
	h := deadlines(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
			http.Error(w, "cancelled", http.StatusServiceUnavailable)
		case <-time.After(5 * read):
			fmt.Fprint(w, "done")
		}
	}), read, time.Minute)
	srv := httptest.NewServer(h)
	defer srv.Close()
	for _, body := range []string{"", `{"query":"{ __typename }"}`} {
		resp, err := http.Post(srv.URL, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(got) != "done" {
			t.Fatalf("body %q: the handler's request was cut: %d %q", body, resp.StatusCode, got)
		}
	}
}

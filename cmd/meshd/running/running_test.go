package running

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRecord: a record is read back as written; a meshd that forgets its record leaves the one
// a newer meshd wrote since; an answer proves its meshd by the instance header alone.
func TestRecord(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if _, err := Read(dir); err == nil || !strings.Contains(err.Error(), "no running meshd") {
		t.Fatalf("no record: %v", err)
	}
	old := Record{URL: "http://127.0.0.1:1", Instance: "old", PID: 1}
	if err := old.Write(dir); err != nil {
		t.Fatal(err)
	}
	if got, err := Read(dir); err != nil || got != old {
		t.Fatalf("read %+v, %v; want %+v", got, err, old)
	}
	if fi, err := os.Stat(filepath.Join(dir, File)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("record file: %v, %v", fi, err)
	}
	cur := Record{URL: "http://127.0.0.1:2", Instance: "new", PID: 2}
	if err := cur.Write(dir); err != nil {
		t.Fatal(err)
	}
	old.Forget(dir)
	if got, err := Read(dir); err != nil || got != cur {
		t.Fatalf("the old meshd forgot the new one's record: %+v, %v", got, err)
	}
	stamped := Stamp(http.NotFoundHandler(), "new")
	rec := httptest.NewRecorder()
	stamped.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if err := cur.Check(rec.Result(), dir); err != nil {
		t.Fatalf("its own answer: %v", err)
	}
	if err := old.Check(rec.Result(), dir); err == nil {
		t.Fatal("another instance's answer is accepted")
	}
	cur.Forget(dir)
	if _, err := os.Stat(filepath.Join(dir, File)); !os.IsNotExist(err) {
		t.Fatalf("forgotten record: %v", err)
	}
}

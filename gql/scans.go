package gql

import (
	"sync"
	"sync/atomic"

	"github.com/smalruby/meshd/gql/plan"
)

// maxScans bounds the scanned documents kept; when the cache is full it starts over.
const maxScans = 512

// scans keeps the scan of recent documents by their text, so that a document is scanned
// once — for its shape, its operations and its plans — whether it came over HTTP or a
// WebSocket, and a plan is checked against the schema once.
type scans struct {
	mu sync.Mutex
	m  map[string]*scanned
}

// scanned is one document's scan and the operations whose plans were found valid.
type scanned struct {
	doc *plan.Document
	// names are the names written after a $ in the document (see variableNames).
	names map[string]bool
	// refused says that a request of the document was refused for the document itself, so
	// that the next ones look for the verdict.
	refused atomic.Bool
	mu      sync.Mutex
	// checked holds the operation names whose plans were validated with a request.
	checked map[string]bool
}

// get returns a document's scan, scanning it on first use.
func (c *scans) get(text string) *scanned {
	c.mu.Lock()
	sc := c.m[text]
	c.mu.Unlock()
	if sc != nil {
		return sc
	}
	sc = &scanned{doc: plan.Scan(text), names: variableNames(text)}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxScans {
		c.m = map[string]*scanned{}
	}
	c.m[text] = sc
	c.mu.Unlock()
	return sc
}

// planOf returns the plan of a request, or nil when graphql-go must run it. A plan runs
// only once its document was found valid: a document invalid as sent, perhaps only for
// these variables, is answered by graphql-go, and the next request checks again.
func (s *Server) planOf(req request) *plan.Plan {
	sc := s.scans.get(req.Query)
	p := sc.doc.Plan(req.OperationName)
	if p == nil {
		return nil
	}
	sc.mu.Lock()
	ok := sc.checked[req.OperationName]
	sc.mu.Unlock()
	if ok {
		return p
	}
	if len(s.validate(req)) > 0 {
		return nil
	}
	sc.mu.Lock()
	if sc.checked == nil {
		sc.checked = map[string]bool{}
	}
	sc.checked[req.OperationName] = true
	sc.mu.Unlock()
	return p
}

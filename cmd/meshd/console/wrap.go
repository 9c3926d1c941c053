package console

import (
	"net/http"
	"strings"
)

// Wrap serves the console's paths (/console/… and /statusz) and passes every other request
// to next: the console on the main listener.
func (c *Console) Wrap(next http.Handler) http.Handler {
	h := c.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; p == "/statusz" || p == "/console" || strings.HasPrefix(p, "/console/") {
			h.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

package console

import "net/http"

// LinkPath is the endpoint that hands a fresh one-time login link to a caller with an admin
// key (POST, Authorization: Bearer KEY): what `meshd console-link` asks the running meshd, whose
// tickets live in its memory. It answers {"links": [...]}, one link per base URL of
// Options.LinkBases, all with the same ticket.
const LinkPath = "/console/api/login-link"

// LoginLinks returns a one-time login link at each of bases (scheme://host:port), all with one
// new ticket: the first opened logs in, and the others are spent with it.
func (c *Console) LoginLinks(bases []string) []string {
	path := c.LoginPath()
	links := make([]string, len(bases))
	for i, b := range bases {
		links[i] = b + path
	}
	return links
}

// serveLoginLink issues login links to a request with an admin key, and to nothing else: a
// session is not enough, and guessing is throttled as for every key.
func (c *Console) serveLoginLink(w http.ResponseWriter, r *http.Request) {
	secure(w)
	if !c.auth.checkKey(r, bearer(r)) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="meshd console"`)
		writeError(w, http.StatusUnauthorized, "Unauthorized", "send an admin key as Authorization: Bearer KEY")
		return
	}
	var bases []string
	if c.opts.LinkBases != nil {
		bases = c.opts.LinkBases()
	}
	if len(bases) == 0 {
		writeError(w, http.StatusServiceUnavailable, "NotListening", "the console does not know its addresses yet")
		return
	}
	writeJSON(w, http.StatusOK, map[string][]string{"links": c.LoginLinks(bases)})
}

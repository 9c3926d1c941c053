// Package profiling holds meshd's pprof endpoints, whose command line hides the values of
// secret flags.
package profiling

import (
	"fmt"
	"net/http"
	"net/http/pprof"
	"os"
	"strings"
)

// Handler serves pprof's index, profile, symbol and trace, and its cmdline with the values of
// the flags secret names (without their dashes) replaced by REDACTED.
func Handler(secret map[string]bool) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprint(w, strings.Join(redact(os.Args, secret), "\x00"))
	})
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// redact is args with the values of the secret flags replaced, as -flag value or -flag=value,
// up to a "--".
func redact(args []string, secret map[string]bool) []string {
	out := make([]string, len(args))
	hide := false
	for i, a := range args {
		switch {
		case hide:
			out[i], hide = "REDACTED", false
			continue
		case a == "--":
			copy(out[i:], args[i:])
			return out
		}
		out[i] = a
		name, _, inline := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && secret[name] {
			if inline {
				out[i] = a[:strings.Index(a, "=")+1] + "REDACTED"
			} else {
				hide = true
			}
		}
	}
	return out
}

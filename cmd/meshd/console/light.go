package console

import (
	"fmt"
	"slices"
	"time"
)

// ordinaryErrors are the failures a classroom makes by itself — a pupil still polling a
// group the teacher dissolved, a member whose membership lapsed — which say nothing about the
// server's health.
var ordinaryErrors = []string{"GroupNotFound", "NodeNotFound"}

// storeFailureShown is how long a failed commit keeps the light red.
const storeFailureShown = errorWindow

// light folds the server's health into one word, "ok" or "bad", and the problems behind a
// "bad".
func light(now time.Time, s ServerStatus) (string, []string) {
	problems := []string{}
	if s.Store.LastErrorAt != nil && now.Sub(*s.Store.LastErrorAt) < storeFailureShown {
		problems = append(problems, "store: "+s.Store.LastError)
	}
	kinds := make([]string, 0, len(s.RecentErrors))
	for k := range s.RecentErrors {
		if !slices.Contains(ordinaryErrors, k) {
			kinds = append(kinds, k)
		}
	}
	slices.Sort(kinds)
	for _, k := range kinds {
		problems = append(problems, fmt.Sprintf("%s ×%d", k, s.RecentErrors[k]))
	}
	if len(problems) > 0 {
		return "bad", problems
	}
	return "ok", problems
}

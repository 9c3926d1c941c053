package gql

// GroupRef names a group by its domain and id.
type GroupRef struct {
	Domain  string
	GroupID string
}

// groupOf is the group a subscription request left to graphql-go listens to, read from its
// variables (every editor generation passes groupId and domain as variables); the zero
// GroupRef when such a document spells them inline. Planned executions know their group from
// their plan.
func groupOf(req request) GroupRef {
	id, _ := req.Variables["groupId"].(string)
	domain, _ := req.Variables["domain"].(string)
	return GroupRef{Domain: domain, GroupID: id}
}

// GroupSubscriptions counts the live realtime subscriptions of each group, for the console.
// Unplanned subscriptions whose document names its group inline count under the zero GroupRef.
func (s *Server) GroupSubscriptions() map[GroupRef]int {
	h := &s.rt.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[GroupRef]int, len(h.execs))
	for _, e := range h.execs {
		out[e.group] += len(*e.subs.Load())
	}
	return out
}

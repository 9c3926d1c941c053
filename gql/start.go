package gql

import (
	"strconv"
)

// check validates the document of operation id as both dialects do on start or subscribe and
// returns its kind and number of root fields; ok is false once it has answered with an error.
func (c *conn) check(id string, req *request) (kind string, roots int, ok bool) {
	if refused, _ := c.s.bindVariables(req); refused != nil {
		c.sendError(id, []Error{*refused})
		return "", 0, false
	}
	if errs := c.s.validate(*req); len(errs) > 0 {
		c.sendError(id, errs)
		return "", 0, false
	}
	kind, roots, err := c.s.scans.get(req.Query).doc.Operation(req.OperationName)
	if err != nil {
		c.operationError(id, "ValidationError", err.Error())
		return "", 0, false
	}
	return kind, roots, true
}

// subscribe joins subscription id, a checked document with roots root fields, to the hub and
// queues ack (if any) ahead of its first result. It answers a document with more than one
// root field and a socket at its subscription limit itself; a duplicate id it reports for the
// dialect to answer.
func (c *conn) subscribe(id string, req request, roots int, ack []byte) (duplicate bool) {
	if roots != 1 {
		c.operationError(id, "DuplicatedOperationError", "a subscription must have exactly one root field")
		return false
	}
	max := c.s.rt.cfg.MaxSubscriptions
	c.mu.Lock()
	full := len(c.subs) >= max
	c.mu.Unlock()
	switch {
	case c.subscribed(id):
		return true
	case full:
		c.operationError(id, "MaxSubscriptionsReachedError", "at most "+strconv.Itoa(max)+" subscriptions per connection")
		return false
	}
	sub := &subscriber{c: c, id: id, prefix: c.d.resultPrefix(id)}
	c.mu.Lock()
	c.subs[id] = sub
	c.mu.Unlock()
	c.s.rt.subscriptions.Add(1)
	if !c.s.rt.hub.add(c.s, sub, req, ack) {
		c.mu.Lock()
		if c.subs[id] == sub {
			delete(c.subs, id)
			c.s.rt.subscriptions.Add(-1)
		}
		c.mu.Unlock()
	}
	return false
}

// stop ends subscription id of this socket, if it exists, and reports whether it did.
func (c *conn) stop(id string) bool {
	c.mu.Lock()
	sub := c.subs[id]
	delete(c.subs, id)
	c.mu.Unlock()
	if sub != nil {
		c.s.rt.hub.remove(sub)
		c.s.rt.subscriptions.Add(-1)
	}
	return sub != nil
}

// subscribed reports whether subscription id of this socket is live.
func (c *conn) subscribed(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.subs[id]
	return ok
}

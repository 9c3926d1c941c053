package broker

import "hash/fnv"

// Part is one of Of parts of the groups, split by PartOf: a cluster splits its replicated log
// into parts, each carrying the changes of its groups only.
type Part struct {
	Index int `json:"index"`
	Of    int `json:"of"`
}

// PartOf returns which of n parts the group id in domain belongs to. The split never changes
// for a given n: it decides which replicated log carries a group's changes.
func PartOf(domain, id string, n int) int {
	if n <= 1 {
		return 0
	}
	h := fnv.New32a()
	h.Write([]byte(domain))
	h.Write([]byte{0})
	h.Write([]byte(id))
	return int(h.Sum32() % uint32(n))
}

// holds reports whether the group id in domain is in the part; a nil part holds every group.
func (p *Part) holds(domain, id string) bool {
	return p == nil || PartOf(domain, id, p.Of) == p.Index
}

package broker

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
	return int(groupHash(domain, id) % uint32(n))
}

// groupHash is the 32-bit FNV-1a hash of domain, a zero byte and id: where a group lives, in
// the broker's shards and in a cluster's parts. It is hash/fnv's, computed over the strings
// without converting them to bytes, as every request of a group asks it.
func groupHash(domain, id string) uint32 {
	return fnvAdd(fnvAdd(fnvOffset, domain)*fnvPrime, id) // the zero byte between them: h^0 = h
}

// FNV-1a's 32-bit offset basis and prime.
const fnvOffset, fnvPrime uint32 = 2166136261, 16777619

// fnvAdd continues the 32-bit FNV-1a hash h over the bytes of s.
func fnvAdd(h uint32, s string) uint32 {
	for i := 0; i < len(s); i++ {
		h = (h ^ uint32(s[i])) * fnvPrime
	}
	return h
}

// holds reports whether the group id in domain is in the part; a nil part holds every group.
func (p *Part) holds(domain, id string) bool {
	return p == nil || PartOf(domain, id, p.Of) == p.Index
}

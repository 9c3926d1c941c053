package main

import (
	"strconv"
)

// tagPrefix starts every sequence tag the generator puts into a message.
const tagPrefix = "seq:"

// tag identifies one published message: who sent it, its place in that sender's sequence
// (from 1, shared by data reports and event batches, because a node's messages must arrive in
// the order it sent them whatever their kind), and when it was sent.
type tag struct {
	sender int    // global index of the sending node
	seq    uint64 // 1, 2, 3, … per sender
	sent   int64  // Unix nanoseconds just before the HTTP request was written
}

// String renders the tag as it travels: "seq:<sender>:<seq>:<sent unix nanos>".
func (t tag) String() string {
	return string(t.append(nil))
}

func (t tag) append(b []byte) []byte {
	b = append(b, tagPrefix...)
	b = strconv.AppendInt(b, int64(t.sender), 10)
	b = append(b, ':')
	b = strconv.AppendUint(b, t.seq, 10)
	b = append(b, ':')
	return strconv.AppendInt(b, t.sent, 10)
}

// parseTag reads a tag; ok is false unless s is exactly "seq:" and three unsigned decimal
// numbers separated by colons, with a non-zero sequence number.
func parseTag(s []byte) (t tag, ok bool) {
	if len(s) < len(tagPrefix) || string(s[:len(tagPrefix)]) != tagPrefix {
		return t, false
	}
	var parts [3]uint64
	rest := s[len(tagPrefix):]
	for i := range parts {
		n, end, ok := decimal(rest)
		if !ok {
			return t, false
		}
		parts[i] = n
		rest = rest[end:]
		if i < len(parts)-1 {
			if len(rest) == 0 || rest[0] != ':' {
				return t, false
			}
			rest = rest[1:]
		}
	}
	const maxInt = 1<<63 - 1
	if len(rest) != 0 || parts[1] == 0 || parts[0] > 1<<31-1 || parts[2] > maxInt {
		return t, false
	}
	return tag{sender: int(parts[0]), seq: parts[1], sent: int64(parts[2])}, true
}

// decimal reads the leading run of at most 19 ASCII digits of b.
func decimal(b []byte) (n uint64, end int, ok bool) {
	for end < len(b) && b[end] >= '0' && b[end] <= '9' {
		if end == 19 {
			return 0, 0, false
		}
		n = n*10 + uint64(b[end]-'0')
		end++
	}
	return n, end, end > 0
}

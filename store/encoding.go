package store

import (
	"encoding/binary"
	"fmt"
	"time"
)

// Keys are length-prefixed strings: a uvarint byte count followed by the bytes. A group's key
// is its domain and id; a member's or status's key is its group's key followed by its node id.
// The length prefixes make every key prefix-free, so the keys of one group's members and
// statuses are exactly the keys that start with the group's key, whatever bytes ids contain.

// groupKey is the key of the group (domain, groupID).
func groupKey(domain, groupID string) []byte {
	b := make([]byte, 0, 2*binary.MaxVarintLen16+len(domain)+len(groupID))
	return appendString(appendString(b, domain), groupID)
}

// nodeKey is the key of the member or status of nodeID in the group (domain, groupID).
func nodeKey(domain, groupID, nodeID string) []byte {
	b := make([]byte, 0, 3*binary.MaxVarintLen16+len(domain)+len(groupID)+len(nodeID))
	return appendString(appendString(appendString(b, domain), groupID), nodeID)
}

// parseGroupKey is the inverse of groupKey.
func parseGroupKey(k []byte) (domain, groupID string, err error) {
	d := decoder{b: k}
	domain, groupID = d.string(), d.string()
	return domain, groupID, d.end()
}

// parseNodeKey is the inverse of nodeKey.
func parseNodeKey(k []byte) (domain, groupID, nodeID string, err error) {
	d := decoder{b: k}
	domain, groupID, nodeID = d.string(), d.string(), d.string()
	return domain, groupID, nodeID, d.end()
}

// Records hold what their key does not: a version byte, then the fields in a fixed order.
// Strings are length-prefixed like keys, times are zigzag varints of milliseconds since the
// Unix epoch, counts and Seq are uvarints.

// recordVersion is the first byte of every record.
const recordVersion = 1

// groupWebSocket is the bit of a group record's flags byte set when the group uses WebSockets.
const groupWebSocket = 1

func encodeGroup(g *Group) []byte {
	b := make([]byte, 0, 1+len(g.Name)+len(g.HostID)+6*binary.MaxVarintLen64)
	b = append(b, recordVersion)
	b = appendString(b, g.Name)
	b = appendString(b, g.HostID)
	b = appendTime(b, g.CreatedAt)
	b = appendTime(b, g.ExpiresAt)
	b = appendTime(b, g.HeartbeatAt)
	var flags byte
	if g.UseWebSocket {
		flags |= groupWebSocket
	}
	b = append(b, flags)
	b = binary.AppendVarint(b, int64(g.PollingIntervalSeconds))
	return binary.AppendUvarint(b, g.Seq)
}

func decodeGroup(key, value []byte) (Group, error) {
	var g Group
	var err error
	if g.Domain, g.ID, err = parseGroupKey(key); err != nil {
		return Group{}, fmt.Errorf("group key: %w", err)
	}
	d := decoder{b: value}
	d.version()
	g.Name, g.HostID = d.string(), d.string()
	g.CreatedAt, g.ExpiresAt, g.HeartbeatAt = d.time(), d.time(), d.time()
	flags := d.byte()
	if flags&^groupWebSocket != 0 {
		d.fail("unknown group flags %#x", flags)
	}
	g.UseWebSocket = flags&groupWebSocket != 0
	g.PollingIntervalSeconds = d.int()
	g.Seq = d.uvarint()
	if err := d.end(); err != nil {
		return Group{}, fmt.Errorf("group record: %w", err)
	}
	return g, nil
}

func encodeMember(m *Member) []byte {
	b := make([]byte, 0, 1+2*binary.MaxVarintLen64)
	b = append(b, recordVersion)
	b = appendTime(b, m.JoinedAt)
	return appendTime(b, m.ExpiresAt)
}

func decodeMember(key, value []byte) (Member, error) {
	var m Member
	var err error
	if m.Domain, m.GroupID, m.NodeID, err = parseNodeKey(key); err != nil {
		return Member{}, fmt.Errorf("member key: %w", err)
	}
	d := decoder{b: value}
	d.version()
	m.JoinedAt, m.ExpiresAt = d.time(), d.time()
	if err := d.end(); err != nil {
		return Member{}, fmt.Errorf("member record: %w", err)
	}
	return m, nil
}

func encodeStatus(s *Status) []byte {
	n := 1 + 2*binary.MaxVarintLen64
	for _, p := range s.Data {
		n += 2*binary.MaxVarintLen32 + len(p.Key) + len(p.Value)
	}
	b := make([]byte, 0, n)
	b = append(b, recordVersion)
	b = appendTime(b, s.Timestamp)
	b = binary.AppendUvarint(b, uint64(len(s.Data)))
	for _, p := range s.Data {
		b = appendString(appendString(b, p.Key), p.Value)
	}
	return b
}

func decodeStatus(key, value []byte) (Status, error) {
	var s Status
	var err error
	if s.Domain, s.GroupID, s.NodeID, err = parseNodeKey(key); err != nil {
		return Status{}, fmt.Errorf("status key: %w", err)
	}
	d := decoder{b: value}
	d.version()
	s.Timestamp = d.time()
	// Every pair takes at least two bytes, which bounds what a damaged count can allocate.
	if n := d.uvarint(); n > uint64(len(d.b)/2) {
		d.fail("%d pairs cannot fit in %d bytes", n, len(d.b))
	} else {
		s.Data = make([]Pair, n)
		for i := range s.Data {
			s.Data[i] = Pair{Key: d.string(), Value: d.string()}
		}
	}
	if err := d.end(); err != nil {
		return Status{}, fmt.Errorf("status record: %w", err)
	}
	return s, nil
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

func appendTime(b []byte, t time.Time) []byte {
	return binary.AppendVarint(b, t.UnixMilli())
}

// fromMillis is the time n milliseconds after the Unix epoch, in UTC.
func fromMillis(n int64) time.Time {
	return time.UnixMilli(n).UTC()
}

// decoder reads the fields of a key or record in order. The first problem sticks: later reads
// return zero values and end reports it.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf(format, args...)
	}
}

func (d *decoder) version() {
	if v := d.byte(); d.err == nil && v != recordVersion {
		d.fail("record version %d, this meshd reads %d", v, recordVersion)
	}
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.fail("truncated")
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("malformed number")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("malformed number")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) int() int {
	v := d.varint()
	if int64(int(v)) != v {
		d.fail("number %d out of range", v)
		return 0
	}
	return int(v)
}

func (d *decoder) time() time.Time {
	if v := d.varint(); d.err == nil {
		return fromMillis(v)
	}
	return time.Time{}
}

// string copies the next string out of the buffer, which bbolt owns only during a transaction.
func (d *decoder) string() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.b)) {
		d.fail("string of %d bytes overruns the %d left", n, len(d.b))
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// end reports the first problem, or bytes left over after the last field.
func (d *decoder) end() error {
	if d.err == nil && len(d.b) > 0 {
		d.fail("%d bytes after the last field", len(d.b))
	}
	return d.err
}

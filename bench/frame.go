package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// serverFrame is what the generator needs from one frame a realtime server sent: its type and
// subscription id, the sequence tags in its payload and whether it announces a dissolve. The
// byte slices point into the frame's buffer and are valid until the next read.
type serverFrame struct {
	typ, id  []byte
	tags     []tag
	badTags  int  // strings of the payload that start with "seq:" but are not tags
	dissolve bool // the payload has a non-null groupDissolve object
}

// maxDepth is the nesting limit of encoding/json, so both accept the same documents.
const maxDepth = 10000

var errFrame = errors.New("malformed frame")

// parseFrame reads a frame without building a tree: a JSON object whose "type" and "id" are
// strings (or null), and whose "payload", if any, is searched for tags. It accepts exactly
// the JSON that encoding/json accepts.
func parseFrame(b []byte, f *serverFrame) error {
	*f = serverFrame{tags: f.tags[:0]}
	s := scanner{b: b}
	s.space()
	if s.peek() != '{' {
		return fmt.Errorf("%w: not an object", errFrame)
	}
	err := s.object(1, func(key []byte) error {
		switch string(key) {
		case "type":
			return s.nullableString(&f.typ)
		case "id":
			return s.nullableString(&f.id)
		case "payload":
			return s.payload(1, f)
		}
		return s.value(1, nil)
	})
	if err != nil {
		return err
	}
	s.space()
	if s.i != len(b) {
		return fmt.Errorf("%w: data after the object at byte %d", errFrame, s.i)
	}
	return nil
}

// scanner walks JSON text.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) fail(what string) error {
	return fmt.Errorf("%w: %s at byte %d", errFrame, what, s.i)
}

// object reads an object whose '{' is next, calling member for each key with the scanner
// positioned at the value; member must consume the value.
func (s *scanner) object(depth int, member func(key []byte) error) error {
	if depth > maxDepth {
		return s.fail("nesting too deep")
	}
	s.i++ // '{'
	s.space()
	if s.peek() == '}' {
		s.i++
		return nil
	}
	for {
		s.space()
		if s.peek() != '"' {
			return s.fail("expected a key")
		}
		key, err := s.text()
		if err != nil {
			return err
		}
		s.space()
		if s.peek() != ':' {
			return s.fail("expected ':'")
		}
		s.i++
		s.space()
		if err := member(key); err != nil {
			return err
		}
		s.space()
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return nil
		default:
			return s.fail("expected ',' or '}'")
		}
	}
}

// array reads an array whose '[' is next, calling element for each element.
func (s *scanner) array(depth int, element func() error) error {
	if depth > maxDepth {
		return s.fail("nesting too deep")
	}
	s.i++ // '['
	s.space()
	if s.peek() == ']' {
		s.i++
		return nil
	}
	for {
		s.space()
		if err := element(); err != nil {
			return err
		}
		s.space()
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			return nil
		default:
			return s.fail("expected ',' or ']'")
		}
	}
}

// value reads any value; onString, if set, sees every string value (not keys) in it.
func (s *scanner) value(depth int, onString func([]byte)) error {
	switch c := s.peek(); {
	case c == '{':
		return s.object(depth+1, func([]byte) error { return s.value(depth+1, onString) })
	case c == '[':
		return s.array(depth+1, func() error { return s.value(depth+1, onString) })
	case c == '"':
		str, err := s.text()
		if err == nil && onString != nil {
			onString(str)
		}
		return err
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		return s.number()
	}
	return s.fail("expected a value")
}

// payload reads the payload value, collecting tags and noting dissolves.
func (s *scanner) payload(depth int, f *serverFrame) error {
	onString := func(str []byte) {
		if len(str) < len(tagPrefix) || string(str[:len(tagPrefix)]) != tagPrefix {
			return
		}
		if t, ok := parseTag(str); ok {
			f.tags = append(f.tags, t)
		} else {
			f.badTags++
		}
	}
	var walk func(depth int) error
	walk = func(depth int) error {
		switch s.peek() {
		case '{':
			return s.object(depth+1, func(key []byte) error {
				if string(key) == "groupDissolve" && s.peek() == '{' {
					f.dissolve = true
				}
				return walk(depth + 1)
			})
		case '[':
			return s.array(depth+1, func() error { return walk(depth + 1) })
		}
		return s.value(depth, onString)
	}
	return walk(depth)
}

func (s *scanner) nullableString(dst *[]byte) error {
	switch s.peek() {
	case 'n':
		*dst = nil
		return s.literal("null")
	case '"':
		str, err := s.text()
		*dst = str
		return err
	}
	return s.fail("expected a string")
}

func (s *scanner) literal(lit string) error {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return s.fail("bad literal")
	}
	s.i += len(lit)
	return nil
}

// number reads -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() error {
	digits := func() int {
		n := 0
		for c := s.peek(); c >= '0' && c <= '9'; c = s.peek() {
			s.i++
			n++
		}
		return n
	}
	if s.peek() == '-' {
		s.i++
	}
	switch c := s.peek(); {
	case c == '0':
		s.i++
	case c >= '1' && c <= '9':
		digits()
	default:
		return s.fail("bad number")
	}
	if s.peek() == '.' {
		s.i++
		if digits() == 0 {
			return s.fail("bad fraction")
		}
	}
	if c := s.peek(); c == 'e' || c == 'E' {
		s.i++
		if c := s.peek(); c == '+' || c == '-' {
			s.i++
		}
		if digits() == 0 {
			return s.fail("bad exponent")
		}
	}
	return nil
}

// text reads a string whose '"' is next and returns its contents: a slice of the input when
// it is plain UTF-8 without escapes, else the text as encoding/json decodes it.
func (s *scanner) text() ([]byte, error) {
	start := s.i
	s.i++
	escaped, wide := false, false
	for s.i < len(s.b) {
		// Most of a frame is plain ASCII text: skip it without the switch.
		i, b := s.i, s.b
		for i < len(b) && plainText[b[i]] {
			i++
		}
		if s.i = i; i == len(b) {
			break
		}
		c := b[i]
		switch {
		case c == '"':
			s.i++
			if raw := s.b[start+1 : s.i-1]; !escaped && (!wide || utf8.Valid(raw)) {
				return raw, nil
			}
			var str string
			if err := json.Unmarshal(s.b[start:s.i], &str); err != nil {
				return nil, s.fail("bad string")
			}
			return []byte(str), nil
		case c < 0x20:
			return nil, s.fail("control character in string")
		case c == '\\':
			escaped = true
			s.i++
			switch s.peek() {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i++
			case 'u':
				s.i++
				for range 4 {
					if !isHex(s.peek()) {
						return nil, s.fail("bad \\u escape")
					}
					s.i++
				}
			default:
				return nil, s.fail("bad escape")
			}
		default:
			wide = wide || c >= utf8.RuneSelf
			s.i++
		}
	}
	return nil, s.fail("unterminated string")
}

// plainText marks the bytes a JSON string may hold as they are: printable ASCII except '"'
// and '\\'.
var plainText = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

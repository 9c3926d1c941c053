package bus

import (
	"encoding/base64"
	"fmt"
	"strings"
)

// subjectPrefix starts the subject of every group.
const subjectPrefix = "mesh.g."

// encodedMark starts every token that is not its string verbatim.
const encodedMark = "_"

// tokenEncoding is unpadded base64 with the URL-safe alphabet [A-Za-z0-9_-], all of which
// NATS allows in a subject token.
var tokenEncoding = base64.RawURLEncoding

// Subject returns the NATS subject of a group's messages, "mesh.g.<domain>.<group>" with
// domain and group encoded as subject tokens; different (domain, groupID) pairs have
// different subjects.
func Subject(domain, groupID string) string {
	return subjectPrefix + token(domain) + "." + token(groupID)
}

// token encodes s as one non-empty NATS subject token made of [A-Za-z0-9_-]. A non-empty
// string of lower-case letters, digits and '-' (a hex domain, a UUID) is its own token; any
// other string, the empty one included, becomes "_" followed by its unpadded URL-safe base64,
// at most 4/3 of its length plus 2. No verbatim token starts with '_', so different strings
// have different tokens.
func token(s string) string {
	if verbatim(s) {
		return s
	}
	return encodedMark + tokenEncoding.EncodeToString([]byte(s))
}

// verbatim reports whether s is its own token.
func verbatim(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// DecodeToken returns the string that Subject encoded as tok, one of the two tokens after
// "mesh.g.". It fails for any tok that Subject never produces.
func DecodeToken(tok string) (string, error) {
	s := tok
	if rest, ok := strings.CutPrefix(tok, encodedMark); ok {
		b, err := tokenEncoding.DecodeString(rest)
		if err != nil {
			return "", fmt.Errorf("decode subject token %q: %w", tok, err)
		}
		s = string(b)
	}
	// Rejects what base64 tolerates (line breaks, non-zero trailing bits) and what is
	// neither verbatim nor encoded.
	if token(s) != tok {
		return "", fmt.Errorf("decode subject token %q: not a token Subject produces", tok)
	}
	return s, nil
}

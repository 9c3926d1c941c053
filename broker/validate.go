package broker

import (
	"cmp"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Limits on arguments (spec §12). Violations are ValidationErrors whose messages avoid the
// words the client treats as fatal ("not found", "expired", "unauthorized").
const (
	MaxIDBytes       = 256
	MaxDomainUnits   = 256
	MaxDataEntries   = 1000
	MaxKeyBytes      = 1024
	MaxValueBytes    = 64 * 1024
	MaxEvents        = 1000
	MaxEventName     = 1024
	MaxEventPayload  = 64 * 1024
	MaxOrderKeyBytes = 256
)

func checkDomain(domain string) error {
	if len(domain) > MaxDomainUnits {
		// Counted in UTF-16 code units, as upstream's JavaScript check does.
		if len(utf16.Encode([]rune(domain))) > MaxDomainUnits {
			return errorf(ValidationError, "Domain must be 256 characters or less")
		}
	}
	return checkText("domain", domain)
}

func checkID(name, value string) error {
	if len(value) > MaxIDBytes {
		return errorf(ValidationError, "%s must be %d bytes or less", name, MaxIDBytes)
	}
	return checkText(name, value)
}

// checkName accepts a group name: a String, any text up to MaxIDBytes.
func checkName(name string) error {
	if len(name) > MaxIDBytes {
		return errorf(ValidationError, "name must be %d bytes or less", MaxIDBytes)
	}
	return nil
}

// checkText accepts the text an id or a domain may hold: any UTF-8 string without control
// characters. Real editors send ids of hex digits (hostId, nodeId), UUIDs meshd made
// (groupId), and domains of [A-Za-z0-9._-] or createDomain's hex; the spec's ids in any
// script (ノード001) are accepted too. None holds a control character (U+0000–U+001F,
// U+007F–U+009F); an id is written as a GraphQL ID (which graphql-go cannot write with one),
// into logs and into subjects.
func checkText(name, value string) error {
	if !utf8.ValidString(value) {
		return errorf(ValidationError, "%s must be UTF-8 text", name)
	}
	for _, r := range value {
		if unicode.IsControl(r) {
			return errorf(ValidationError, "%s must not contain control characters (U+%04X)", name, r)
		}
	}
	return nil
}

// checkArgs validates a domain and named ids, in order.
func checkArgs(domain string, ids ...string) error {
	if err := checkDomain(domain); err != nil {
		return err
	}
	for i := 0; i+1 < len(ids); i += 2 {
		if err := checkID(ids[i], ids[i+1]); err != nil {
			return err
		}
	}
	return nil
}

func checkData(data []Pair) error {
	if len(data) > MaxDataEntries {
		return errorf(ValidationError, "data must have %d entries or fewer", MaxDataEntries)
	}
	for _, p := range data {
		if err := cmp.Or(checkSize("data key", len(p.Key), MaxKeyBytes), checkSize("data value", len(p.Value), MaxValueBytes)); err != nil {
			return err
		}
	}
	return nil
}

func checkEvents(events []EventInput) error {
	if len(events) > MaxEvents {
		return errorf(ValidationError, "events must have %d entries or fewer", MaxEvents)
	}
	for _, e := range events {
		err := cmp.Or(
			checkSize("eventName", len(e.Name), MaxEventName),
			checkSize("payload", lenOf(e.Payload), MaxEventPayload),
			checkSize("orderKey", lenOf(e.OrderKey), MaxOrderKeyBytes),
		)
		if err != nil {
			return err
		}
	}
	return nil
}

// checkSize refuses n bytes of what beyond max.
func checkSize(what string, n, max int) error {
	if n > max {
		return errorf(ValidationError, "%s must be %d bytes or less", what, max)
	}
	return nil
}

// lenOf is the length of an optional string, 0 when absent.
func lenOf(s *string) int {
	if s == nil {
		return 0
	}
	return len(*s)
}

package main

import (
	"fmt"
	"io"
	"strings"
)

// helpWidth is the widest line -h prints.
const helpWidth = 100

// usage writes -h: the commands, then every setting grouped by topic, wrapped to helpWidth.
func usage(out io.Writer, settings []setting) {
	var b strings.Builder
	b.WriteString("meshd serves the Mesh v2 realtime GraphQL API (Smalruby 3) on premises.\n\n")
	b.WriteString("Usage:\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-28s %s\n", c.usage, c.about)
	}
	b.WriteString("\n")
	for _, line := range wrap("Every flag has an environment twin; a flag given on the command line wins over the environment, which wins over the default.", "", helpWidth) {
		b.WriteString(line + "\n")
	}
	for t, title := range topics {
		b.WriteString("\n" + title + ":\n")
		for _, s := range settings {
			if s.topic != topic(t) {
				continue
			}
			head := fmt.Sprintf("-%s %s  (%s", s.name(), placeholder(s.value), s.env)
			if def := s.value.String(); def != "" {
				head += ", default " + def
			}
			for _, line := range wrap(head+")", "  ", helpWidth) {
				b.WriteString(line + "\n")
			}
			for _, line := range wrap(s.usage, "        ", helpWidth) {
				b.WriteString(line + "\n")
			}
		}
	}
	io.WriteString(out, b.String())
}

// readmeTable is the wording of one README's settings tables: the header row after the
// topic's title, each topic's title, and each setting's meaning.
type readmeTable struct {
	header  string
	title   func(topic) string
	meaning func(setting) string
}

// english is README.md's wording: the titles and usages of -h.
var english = readmeTable{
	header:  "| environment | flag | default | meaning |",
	title:   func(t topic) string { return topics[t] },
	meaning: func(s setting) string { return s.usage },
}

// settingsMarkdown is a README's settings table, one per topic, from the same definitions
// as -h, worded as in.
func settingsMarkdown(settings []setting, in readmeTable) string {
	var b strings.Builder
	for t := range topics {
		if t > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "**%s**\n\n%s\n|---|---|---|---|\n", in.title(topic(t)), in.header)
		for _, s := range settings {
			if s.topic != topic(t) {
				continue
			}
			def := s.value.String()
			if def == "" {
				def = `""`
			}
			fmt.Fprintf(&b, "| `%s` | `-%s` | `%s` | %s |\n", s.env, s.name(), def, strings.ReplaceAll(in.meaning(s), "|", `\|`))
		}
	}
	return b.String()
}

// placeholder names what a flag takes, as in "-listen-addr string".
func placeholder(v any) string {
	switch v.(type) {
	case intValue, int64Value:
		return "n"
	case durationValue:
		return "duration"
	case listValue:
		return "list"
	case prefixValue:
		return "cidrs"
	default:
		return "string"
	}
}

// wrap breaks text into lines of at most width columns, each starting with indent; a word
// longer than a line gets a line of its own.
func wrap(text, indent string, width int) []string {
	var lines []string
	line := indent
	for _, word := range strings.Fields(text) {
		if line != indent && len(line)+1+len(word) > width {
			lines = append(lines, line)
			line = indent
		}
		if line != indent {
			line += " "
		}
		line += word
	}
	return append(lines, line)
}

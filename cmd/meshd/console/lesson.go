package console

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// The lesson record's endpoints, for a session or an admin key: ?group=ID@DOMAIN names the
// group, live or among the last ended.
const (
	// RecordPath answers the group's record as JSON: members, each variable's recent values,
	// messages.
	RecordPath = "/console/api/record"
	// RecordCSVPath answers it as CSV (UTF-8 with a BOM, CRLF): one row per member, per
	// variable value and per message; ?name=VARIABLE fills the name column from that variable.
	RecordCSVPath = "/console/api/record.csv"
)

// groupRecordJSON is a group's record as RecordPath answers it.
type groupRecordJSON struct {
	FullID    string          `json:"fullId"`
	Kana      string          `json:"kana"`
	CreatedAt time.Time       `json:"createdAt"`
	EndedAt   *time.Time      `json:"endedAt,omitempty"`
	Members   []*memberRecord `json:"members"`
	Variables []*seriesRecord `json:"variables"`
	Messages  []EventStatus   `json:"messages"`
}

// renderRecord renders the record of the request's group with render, under the sampler's
// lock, so that the answer is written to the network after the lock is released; ok is false
// when meshd keeps no record of that group.
func (c *Console) renderRecord(r *http.Request, render func(*groupRecord) []byte) (body []byte, ok bool) {
	s := c.sampler
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.record.groups[r.URL.Query().Get("group")]
	if g == nil {
		return nil, false
	}
	return render(g), true
}

// noRecord answers a request for a group meshd keeps no record of.
func noRecord(w http.ResponseWriter) {
	writeError(w, http.StatusNotFound, "GroupNotFound", "no record of that group: it ended long ago, or no console was open while it ran")
}

func (c *Console) serveRecord(w http.ResponseWriter, r *http.Request) {
	body, ok := c.renderRecord(r, func(g *groupRecord) []byte {
		out := groupRecordJSON{FullID: g.FullID, Kana: g.Kana, CreatedAt: g.CreatedAt, Members: g.members, Variables: g.series, Messages: g.messages}
		if !g.EndedAt.IsZero() {
			out.EndedAt = &g.EndedAt
		}
		if out.Messages == nil {
			out.Messages = []EventStatus{}
		}
		b, _ := json.Marshal(out)
		return b
	})
	if !ok {
		noRecord(w)
		return
	}
	writeJSONBytes(w, http.StatusOK, body)
}

func (c *Console) serveRecordCSV(w http.ResponseWriter, r *http.Request) {
	var name string
	body, ok := c.renderRecord(r, func(g *groupRecord) []byte {
		name = "meshd-" + g.Kana + "-" + g.CreatedAt.Local().Format("20060102-1504") + ".csv"
		return g.csv(r.URL.Query().Get("name"))
	})
	if !ok {
		noRecord(w)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Disposition", `attachment; filename="meshd-record.csv"; filename*=UTF-8''`+url.PathEscape(name))
	_, _ = w.Write(body)
}

// csv renders the record: a BOM so that spreadsheet programs read UTF-8, a header, then the
// members (the host first, each join, and a "left" row when it left), every value of each
// variable oldest first, and the messages. The name column is the latest value of the
// variable nameVar of that pupil, when given.
func (g *groupRecord) csv(nameVar string) []byte {
	names := map[string]string{}
	if nameVar != "" {
		for _, s := range g.series {
			if s.Key == nameVar {
				names[s.Node] = s.Values[len(s.Values)-1].Value
			}
		}
	}
	var b bytes.Buffer
	b.WriteString("\ufeff")
	w := csv.NewWriter(&b)
	w.UseCRLF = true
	iso := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02T15:04:05.000Z")
	}
	row := func(kind string, at time.Time, node, kana, key, value string) {
		_ = w.Write([]string{kind, iso(at), node, kana, inert(names[node]), inert(key), inert(value)})
	}
	_ = w.Write([]string{"kind", "time", "node", "kana", "name", "key", "value"})
	for _, m := range g.members {
		kind := "member"
		if m.Host {
			kind = "host"
		}
		row(kind, m.JoinedAt, m.NodeID, m.Kana, "lastActive", iso(m.LastActive))
		if !m.LeftAt.IsZero() {
			row("left", m.LeftAt, m.NodeID, m.Kana, "", "")
		}
	}
	for _, s := range g.series {
		kana := Kana(s.Node)
		for _, v := range s.Values {
			row("variable", v.At, s.Node, kana, s.Key, v.Value)
		}
	}
	for _, e := range g.messages {
		row("message", e.At, e.From, e.FromKana, e.Name, "")
	}
	w.Flush()
	return b.Bytes()
}

// inert keeps a pupil's text from being read as a formula by a spreadsheet program: a cell
// that starts like one (=, +, @, a tab, or - that is not a number) gets a leading '.
func inert(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '@', '\t', '\r':
		return "'" + s
	case '-':
		if _, err := strconv.ParseFloat(s, 64); err != nil {
			return "'" + s
		}
	}
	return s
}

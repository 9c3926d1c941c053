package main

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Markers in the READMEs: "<!-- example -->" before a shell block that is run as it stands,
// "<!-- example output -->" before the JSON the previous example prints last.
const (
	exampleMarker = "<!-- example -->"
	outputMarker  = "<!-- example output -->"
	// docDomain is the domain the READMEs' sample outputs show.
	docDomain = "1b4e2c7d"
)

// docBlock is one marked fenced block of a README.
type docBlock struct {
	line   int // of the opening fence
	output bool
	text   string
}

// markedBlocks returns a README's marked blocks in order.
func markedBlocks(t *testing.T, path string) []docBlock {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(raw), "\n")
	var out []docBlock
	for i := 0; i < len(lines); i++ {
		marker := strings.TrimSpace(lines[i])
		if marker != exampleMarker && marker != outputMarker {
			continue
		}
		if i+1 >= len(lines) || !strings.HasPrefix(lines[i+1], "```") {
			t.Fatalf("%s:%d: %s must be followed by a fenced block", path, i+1, marker)
		}
		b := docBlock{line: i + 2, output: marker == outputMarker}
		var body []string
		for i += 2; i < len(lines) && !strings.HasPrefix(lines[i], "```"); i++ {
			body = append(body, lines[i])
		}
		b.text = strings.Join(body, "\n")
		out = append(out, b)
	}
	return out
}

var captured = regexp.MustCompile(`^([a-z]+): (.*)$`)

// TestDocumentedExamples runs the shell examples of README.md and README.ja.md, in order and
// in one shell per README, against a real meshd on embedded defaults, with localhost:8080
// pointing at it. Every JSON line they print must be an answer without errors, every
// "name: value" line they echo must hold a value, and a documented output must be what the
// example before it prints.
func TestDocumentedExamples(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is not installed: the READMEs' examples use it (apt-get install curl)")
	}
	for _, readme := range []string{"README.md", "README.ja.md"} {
		t.Run(readme, func(t *testing.T) {
			blocks := markedBlocks(t, filepath.Join("..", "..", readme))
			examples := 0
			for _, b := range blocks {
				if !b.output {
					examples++
				}
			}
			if examples < 2 {
				t.Fatalf("%s has %d marked examples; the curl walk-through and the error example are marked", readme, examples)
			}
			p := startMeshd(t, "-store", "memory")
			addr := strings.TrimSuffix(strings.TrimPrefix(p.URL, "http://"), "/graphql")
			var script strings.Builder
			script.WriteString("set -eu\n")
			for i, b := range blocks {
				if b.output {
					continue
				}
				script.WriteString("echo '@@example " + strconv.Itoa(i) + "'\n")
				script.WriteString(strings.ReplaceAll(b.text, "localhost:8080", addr) + "\n")
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			out, err := exec.CommandContext(ctx, "bash", "-c", script.String()).CombinedOutput()
			if err != nil {
				t.Fatalf("the examples failed: %v\n%s", err, out)
			}
			outputs := splitOutputs(string(out))
			domain := ""
			for i, b := range blocks {
				if b.output {
					continue
				}
				lines := outputs[i]
				var last map[string]any
				for _, l := range lines {
					if m := captured.FindStringSubmatch(l); m != nil {
						if m[2] == "" {
							t.Errorf("%s:%d: %s is empty: the example did not capture it", readme, b.line, m[1])
						}
						if m[1] == "domain" {
							domain = m[2]
						}
						continue
					}
					if !strings.HasPrefix(l, "{") {
						t.Errorf("%s:%d: unexpected output %q", readme, b.line, l)
						continue
					}
					last = nil
					if err := json.Unmarshal([]byte(l), &last); err != nil {
						t.Errorf("%s:%d: not JSON: %q", readme, b.line, l)
					}
					if _, failed := last["errors"]; failed && !(i+1 < len(blocks) && blocks[i+1].output) {
						t.Errorf("%s:%d: the example answers with errors: %s", readme, b.line, l)
					}
				}
				if last == nil {
					t.Errorf("%s:%d: the example printed no answer:\n%s", readme, b.line, strings.Join(lines, "\n"))
					continue
				}
				if i+1 < len(blocks) && blocks[i+1].output {
					doc := strings.ReplaceAll(blocks[i+1].text, docDomain, domain)
					var want map[string]any
					if err := json.Unmarshal([]byte(doc), &want); err != nil {
						t.Fatalf("%s:%d: the documented output is not JSON: %v", readme, blocks[i+1].line, err)
					}
					if !reflect.DeepEqual(last, want) {
						got, _ := json.Marshal(last)
						t.Errorf("%s:%d: the example prints\n%s\nthe README shows (domain %s)\n%s", readme, blocks[i+1].line, got, domain, doc)
					}
				}
			}
		})
	}
}

// splitOutputs cuts the script's output at the "@@example N" lines.
func splitOutputs(out string) map[int][]string {
	res := map[int][]string{}
	cur := -1
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		l := sc.Text()
		if n, ok := strings.CutPrefix(l, "@@example "); ok {
			cur, _ = strconv.Atoi(n)
			continue
		}
		if strings.TrimSpace(l) != "" && cur >= 0 {
			res[cur] = append(res[cur], l)
		}
	}
	return res
}

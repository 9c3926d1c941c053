package deploy_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/smalruby/meshd/cmd/meshd/meshdtest"
	"github.com/smalruby/meshd/deploy/apttest"
)

// qemu returns the qemu-user emulator for goarch, installing Debian's qemu-user-static when it
// is missing.
func qemu(t *testing.T, goarch string) string {
	t.Helper()
	name := map[string]string{"arm64": "qemu-aarch64-static", "arm": "qemu-arm-static"}[goarch]
	return apttest.Tool(t, name, "qemu-user-static")
}

// piMeshd is a meshd started by the deploy tests; post sends key.
type piMeshd struct {
	*meshdtest.Process
	base string // http://host:port
	key  string
}

// startPi runs a meshd binary for a Pi under qemu-user on a random loopback port.
func startPi(t *testing.T, emulator, binary, dataDir string) *piMeshd {
	t.Helper()
	return startMeshd(t, meshdtest.Options{
		Binary: binary,
		Prefix: []string{emulator},
		Args:   []string{"-listen-addr", "127.0.0.1:0", "-data-dir", dataDir, "-api-keys", "pi-key"},
	}, "pi-key")
}

// startMeshd starts meshd as o says and waits until it listens; post sends key.
func startMeshd(t *testing.T, o meshdtest.Options, key string) *piMeshd {
	t.Helper()
	p, err := meshdtest.Start(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Kill() })
	return &piMeshd{Process: p, base: "http://" + p.Addr(), key: key}
}

// post runs a GraphQL document and returns its data, failing on any error.
func (p *piMeshd) post(t *testing.T, query string, vars map[string]any) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var header []string
	if p.key != "" {
		header = []string{"x-api-key", p.key}
	}
	data, err := p.Post(ctx, query, vars, header...)
	if err != nil || data == nil {
		t.Fatalf("%s: %v %v", query, err, data)
	}
	return data
}

// stop sends SIGTERM and expects a clean exit.
func (p *piMeshd) stop(t *testing.T) {
	t.Helper()
	if err := p.Stop(time.Minute); err != nil {
		t.Fatal(err)
	}
}

const piSubscription = `subscription OnMessageInGroup($groupId: ID!, $domain: String!) {
  onMessageInGroup(groupId: $groupId, domain: $domain) {
    groupId domain
    nodeStatus { nodeId data { key value } timestamp }
    batchEvent { events { name firedByNodeId payload timestamp } firedByNodeId timestamp }
    groupDissolve { groupId domain message }
  }
}`

// subscribeAppSync opens an AppSync realtime socket as the editor does and starts the group's
// subscription.
func subscribeAppSync(t *testing.T, base, group, domain string) *websocket.Conn {
	t.Helper()
	header, _ := json.Marshal(map[string]string{"host": strings.TrimPrefix(base, "http://"), "x-api-key": "pi-key"})
	url := strings.Replace(base, "http://", "ws://", 1) + "/graphql/realtime?header=" + base64.StdEncoding.EncodeToString(header) + "&payload=e30="
	ws, _, err := (&websocket.Dialer{Subprotocols: []string{"graphql-ws"}}).Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	ws.WriteJSON(map[string]string{"type": "connection_init"})
	expectFrame(t, ws, "connection_ack")
	data, _ := json.Marshal(map[string]any{"query": piSubscription, "variables": map[string]string{"groupId": group, "domain": domain}})
	ws.WriteJSON(map[string]any{"id": "1", "type": "start", "payload": map[string]any{
		"data": string(data), "extensions": map[string]any{"authorization": map[string]string{"x-api-key": "pi-key", "host": "pi"}}}})
	expectFrame(t, ws, "start_ack")
	return ws
}

// expectFrame reads frames, skipping keep-alives, until one of type typ.
func expectFrame(t *testing.T, ws *websocket.Conn, typ string) map[string]any {
	t.Helper()
	for {
		ws.SetReadDeadline(time.Now().Add(30 * time.Second))
		var f map[string]any
		if err := ws.ReadJSON(&f); err != nil {
			t.Fatalf("waiting for %s: %v", typ, err)
		}
		if f["type"] == typ {
			return f
		}
		if f["type"] != "ka" {
			t.Fatalf("frame %v, want %s", f, typ)
		}
	}
}

// TestPiBuildsRun starts the 64-bit and 32-bit Raspberry Pi builds under qemu-user: a short
// lesson over HTTP and the realtime socket, a graceful stop, and a restart on the same data
// directory that finds the lesson again. armv7 is where unaligned 64-bit atomics would crash.
func TestPiBuildsRun(t *testing.T) {
	for _, target := range []struct{ name, goarch, goarm string }{
		{"linux-arm64", "arm64", ""},
		{"linux-armv7", "arm", "7"},
	} {
		t.Run(target.name, func(t *testing.T) {
			emulator := qemu(t, target.goarch)
			binary := crossBuild(t, target.goarch, target.goarm)
			dir := t.TempDir()
			p := startPi(t, emulator, binary, dir)
			domain := p.post(t, `mutation { createDomain }`, nil)["createDomain"].(string)
			g := p.post(t, `mutation($d: String!) { createGroup(name: "Pi lesson", hostId: "teacher", domain: $d) { id } }`, map[string]any{"d": domain})
			id := g["createGroup"].(map[string]any)["id"].(string)
			p.post(t, `mutation($g: ID!, $d: String!) { joinGroup(groupId: $g, domain: $d, nodeId: "pupil") { id } }`, map[string]any{"g": id, "d": domain})
			ws := subscribeAppSync(t, p.base, id, domain)
			p.post(t, `mutation($g: ID!, $d: String!) { reportDataByNode(groupId: $g, domain: $d, nodeId: "teacher", data: [{key: "x", value: "42"}]) { groupId } }`, map[string]any{"g": id, "d": domain})
			f := expectFrame(t, ws, "data")
			if got := fmt.Sprint(f["payload"]); !strings.Contains(got, "42") || !strings.Contains(got, id) {
				t.Fatalf("data frame %v", f)
			}
			p.post(t, `mutation($g: ID!, $d: String!) { fireEventsByNode(groupId: $g, domain: $d, nodeId: "pupil", events: [{eventName: "go", payload: "1", firedAt: "2026-12-01T09:00:00.000Z"}]) { groupId } }`, map[string]any{"g": id, "d": domain})
			if got := fmt.Sprint(expectFrame(t, ws, "data")["payload"]); !strings.Contains(got, "go") {
				t.Fatalf("event frame %v", got)
			}
			p.stop(t)

			again := startPi(t, emulator, binary, dir)
			list := again.post(t, `query($d: String!) { listGroupsByDomain(domain: $d) { id name } }`, map[string]any{"d": domain})["listGroupsByDomain"].([]any)
			if len(list) != 1 || list[0].(map[string]any)["id"] != id {
				t.Fatalf("after a restart on the same data directory: %v\n%s", list, again.Logs())
			}
			if d := again.post(t, `mutation { createDomain }`, nil)["createDomain"]; d != domain {
				t.Fatalf("domain %v after the restart, was %s", d, domain)
			}
			again.stop(t)
		})
	}
}

package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// editorDocument is one of the newest editor's GraphQL documents, as it sends them.
func editorDocument(t *testing.T, op string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "gql", "testdata", "documents", "g4_"+op+"_typename.graphql"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// pupil is one pupil's browser tab as meshd sees it: its own keep-alive HTTP connections
// (a browser's pool) for mutations and one realtime socket subscribed to its group.
type pupil struct {
	http *http.Client
	ws   *websocket.Conn
}

// call sends one operation over the editor's keep-alive connections and returns its data.
func (e *pupil) call(url, doc string, vars map[string]any) (map[string]any, error) {
	body, _ := json.Marshal(map[string]any{"query": doc, "variables": vars})
	resp, err := e.http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out struct {
		Data   map[string]any `json:"data"`
		Errors []any          `json:"errors"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || len(out.Errors) > 0 || out.Data == nil {
		return nil, fmt.Errorf("HTTP %d: %s", resp.StatusCode, raw)
	}
	return out.Data, nil
}

// subscribe opens the editor's realtime socket as the AppSync SDK does and subscribes to the
// group's messages; it returns once start_ack has arrived.
func (e *pupil) subscribe(base, doc, groupID, domain string) error {
	host := strings.TrimPrefix(base, "http://")
	auth := map[string]string{"host": host, "x-api-key": "k"}
	header, _ := json.Marshal(auth)
	d := websocket.Dialer{Subprotocols: []string{"graphql-ws"}, HandshakeTimeout: 30 * time.Second}
	ws, resp, err := d.Dial("ws://"+host+"/graphql/realtime?header="+base64.StdEncoding.EncodeToString(header)+"&payload=e30=", nil)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		return fmt.Errorf("dial (HTTP %d): %w", status, err)
	}
	e.ws = ws
	ws.SetReadDeadline(time.Now().Add(60 * time.Second))
	if err := ws.WriteJSON(map[string]string{"type": "connection_init"}); err != nil {
		return err
	}
	if err := awaitFrame(ws, "connection_ack"); err != nil {
		return err
	}
	data, _ := json.Marshal(map[string]any{"query": doc, "variables": map[string]string{"groupId": groupID, "domain": domain}})
	if err := ws.WriteJSON(map[string]any{"id": "1", "type": "start", "payload": map[string]any{
		"data": string(data), "extensions": map[string]any{"authorization": auth}}}); err != nil {
		return err
	}
	return awaitFrame(ws, "start_ack")
}

// awaitFrame reads frames, skipping keep-alives, until one of type want; any other is an error.
func awaitFrame(ws *websocket.Conn, want string) error {
	for {
		var f struct {
			Type    string          `json:"type"`
			Payload json.RawMessage `json:"payload"`
		}
		if err := ws.ReadJSON(&f); err != nil {
			return fmt.Errorf("wait for %s: %w", want, err)
		}
		switch f.Type {
		case want:
			return nil
		case "ka":
		default:
			return fmt.Errorf("wait for %s: got %s %s", want, f.Type, f.Payload)
		}
	}
}

// A school behind one NAT address is one client address to a city's meshd. 400 editors — 10
// classes of 40 — each with a realtime socket and keep-alive HTTP connections of its own, all
// from 127.0.0.1, connect and work: every socket is acknowledged and subscribed, every
// editor's report and heartbeat (sent at once, so over two pooled connections) is answered,
// and every socket hears all 40 reports of its class. (Before, sockets were refused 429 once
// the address held 512 connections: about 250 editors.)
func TestSchoolBehindOneAddress(t *testing.T) {
	const classes, pupils = 10, 40
	p := startMeshd(t, "-store", "memory", "-api-keys", "k")
	base := strings.TrimSuffix(p.URL, "/graphql")
	docs := map[string]string{}
	for _, op := range []string{"CreateDomain", "CreateGroup", "JoinGroup", "OnMessageInGroup", "ReportDataByNode", "SendMemberHeartbeat"} {
		docs[op] = editorDocument(t, op)
	}
	newEditor := func() *pupil {
		// A browser keeps up to six connections to one origin alive between requests.
		tr := &http.Transport{MaxIdleConnsPerHost: 6, MaxConnsPerHost: 6}
		t.Cleanup(tr.CloseIdleConnections)
		return &pupil{http: &http.Client{Transport: &keyed{tr}, Timeout: 60 * time.Second}}
	}

	type class struct {
		groupID, domain string
		editors         [pupils]*pupil
	}
	var all [classes]*class
	var wg sync.WaitGroup
	errs := make(chan error, classes*pupils*3)
	for c := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := &class{}
			all[c] = cl
			host := newEditor()
			d, err := host.call(p.URL, docs["CreateDomain"], nil)
			if err != nil {
				errs <- fmt.Errorf("class %d: createDomain: %w", c, err)
				return
			}
			cl.domain = d["createDomain"].(string)
			g, err := host.call(p.URL, docs["CreateGroup"], map[string]any{"name": fmt.Sprint("class", c), "hostId": fmt.Sprint("host", c), "domain": cl.domain, "useWebSocket": true})
			if err != nil {
				errs <- fmt.Errorf("class %d: createGroup: %w", c, err)
				return
			}
			cl.groupID = g["createGroup"].(map[string]any)["id"].(string)
			for i := range cl.editors {
				e := host
				if i > 0 {
					e = newEditor()
					if _, err := e.call(p.URL, docs["JoinGroup"], map[string]any{"groupId": cl.groupID, "domain": cl.domain, "nodeId": fmt.Sprint("c", c, "p", i), "useWebSocket": true}); err != nil {
						errs <- fmt.Errorf("class %d pupil %d: joinGroup: %w", c, i, err)
						return
					}
				}
				cl.editors[i] = e
				t.Cleanup(func() {
					if e.ws != nil {
						e.ws.Close()
					}
				})
				if err := e.subscribe(base, docs["OnMessageInGroup"], cl.groupID, cl.domain); err != nil {
					errs <- fmt.Errorf("class %d pupil %d: socket: %w", c, i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	// Every editor reports a variable and sends its heartbeat at once, as the editor's timers do.
	errs = make(chan error, classes*pupils*2)
	for c, cl := range all {
		for i, e := range cl.editors {
			node := fmt.Sprint("c", c, "p", i)
			if i == 0 {
				node = fmt.Sprint("host", c)
			}
			vars := map[string]any{"groupId": cl.groupID, "domain": cl.domain, "nodeId": node}
			wg.Add(2)
			go func() {
				defer wg.Done()
				report := map[string]any{"data": []map[string]string{{"key": "score", "value": node}}}
				for k, v := range vars {
					report[k] = v
				}
				if _, err := e.call(p.URL, docs["ReportDataByNode"], report); err != nil {
					errs <- fmt.Errorf("%s: reportDataByNode: %w", node, err)
				}
			}()
			go func() {
				defer wg.Done()
				if i == 0 {
					return
				}
				if _, err := e.call(p.URL, docs["SendMemberHeartbeat"], vars); err != nil {
					errs <- fmt.Errorf("%s: sendMemberHeartbeat: %w", node, err)
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for c, cl := range all {
		for i, e := range cl.editors {
			wg.Add(1)
			go func() {
				defer wg.Done()
				heard := map[string]bool{}
				e.ws.SetReadDeadline(time.Now().Add(2 * time.Minute))
				for len(heard) < pupils {
					var f struct {
						Type    string `json:"type"`
						Payload struct {
							Data struct {
								OnMessageInGroup struct {
									NodeStatus *struct {
										NodeID string `json:"nodeId"`
									} `json:"nodeStatus"`
								} `json:"onMessageInGroup"`
							} `json:"data"`
						} `json:"payload"`
					}
					if err := e.ws.ReadJSON(&f); err != nil {
						t.Errorf("class %d pupil %d heard %d reports: %v", c, i, len(heard), err)
						return
					}
					if ns := f.Payload.Data.OnMessageInGroup.NodeStatus; f.Type == "data" && ns != nil {
						heard[ns.NodeID] = true
					}
				}
			}()
		}
	}
	wg.Wait()
}

// keyed sends the editor's API key with every request, as the SDK does.
type keyed struct{ rt http.RoundTripper }

func (k *keyed) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("x-api-key", "k")
	return k.rt.RoundTrip(r)
}

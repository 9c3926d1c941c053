package gql_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/smalruby/meshd/broker"
	"github.com/smalruby/meshd/broker/bus"
	"github.com/smalruby/meshd/gql"
	"github.com/smalruby/meshd/gql/realclient"
	"github.com/smalruby/meshd/store"
)

// editorLessonConfig shortens a lesson's clocks so that its ends happen within seconds: a group
// dies 4 s after its host's last heartbeat (sent every second), polling groups poll every second
// (so their members heartbeat every 3 s), and the sweeper runs four times a second. WebSocket
// members heartbeat only every minute: within a test, only meshd's dissolve message can end their
// sessions.
var editorLessonConfig = broker.Config{
	HostHeartbeatInterval:   time.Second,
	HostHeartbeatTTL:        4 * time.Second,
	MemberHeartbeatInterval: time.Minute,
	PollingInterval:         time.Second,
	SweepInterval:           250 * time.Millisecond,
}

// TestRealEditorLesson drives the editor's Mesh extension (gql/testdata/node/lib/editor.mjs: the
// real aws-appsync client with the editor's documents, timings, position handling and error
// rules) through a lesson's ends and its polling edge cases, against a meshd on the real clock
// (lesson.test.mjs): a host's tab closing and a group expiring end every pupil's session, WebSocket
// and polling alike; polling pupils joining mid-broadcast play every later broadcast once,
// whatever their clocks; and two polling pupils broadcasting at once lose the counted broadcasts
// meshd cannot save (README, Compatibility notes).
func TestRealEditorLesson(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Node and the real client library; not with -short")
	}
	node, dir := realclient.Setup(t)
	logs := &testLog{t: t}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	bs, err := bus.New(bus.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bs.Close)
	b, err := broker.New(context.Background(), broker.Options{Config: editorLessonConfig, Store: store.NewMemory(), Bus: bs, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	api, err := gql.New(b, gql.Config{
		APIKeys:         []string{realClientAPIKey},
		DomainMode:      broker.DomainFixed,
		Secret:          "test-secret-key",
		MaxRequestBytes: 1 << 20,
		RequestTimeout:  30 * time.Second,
		Logger:          log,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api.Handler())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := api.Shutdown(ctx); err != nil {
			t.Logf("realtime shutdown: %v", err)
		}
		srv.Close()
		logs.stop()
	})

	realclient.Run(t, node, dir, []string{
		"MESHD_HTTP_URL=" + srv.URL + "/graphql",
		"MESHD_API_KEY=" + realClientAPIKey,
		"MESHD_FILE_LIMIT_MS=200000",
	}, "lesson.test.mjs")
}

package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/smalruby/meshd/cmd/meshd/console"
	"github.com/smalruby/meshd/cmd/meshd/running"
)

// consoleLink is `meshd console-link`: it asks the meshd running on the data directory for a
// fresh one-time login link to its console and prints it at each address the start-up log
// names (this machine, the public URL, the LAN addresses). The tickets live in that process,
// so only it can issue one, and only to the admin key.
func consoleLink(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("meshd console-link", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "", "meshd's data directory, for its address and admin-key file (default: MESH_DATA_DIR, else meshd-data)")
	if err := parseCommand(fs, "Prints a fresh one-time login link to the console of the meshd running on the data directory.", args, stderr); err != nil {
		return err
	}
	dir := commandDataDir(*dataDir, getenv)
	rec, err := running.Read(dir)
	if err != nil {
		return fmt.Errorf("console-link: %w", err)
	}
	key, err := statusKey("", dir, getenv)
	if err != nil {
		return fmt.Errorf("console-link: %w", err)
	}
	client, err := running.Client(rec.URL, getenv("MESH_TLS_CERT"))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rec.URL+console.LinkPath, nil)
	if err != nil {
		return fmt.Errorf("console-link: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("console-link: the meshd that recorded %s in %s does not answer (has it stopped?): %w", rec.URL, dir, err)
	}
	defer res.Body.Close()
	if err := rec.Check(res, dir); err != nil {
		return fmt.Errorf("console-link: %w", err)
	}
	if res.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		return fmt.Errorf("console-link: %s answered %s: %s", rec.URL+console.LinkPath, res.Status, strings.TrimSpace(string(body)))
	}
	var out struct{ Links []string }
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&out); err != nil || len(out.Links) == 0 {
		return fmt.Errorf("console-link: %s answered no links (%v)", rec.URL+console.LinkPath, err)
	}
	fmt.Fprintln(stderr, "One login for the teacher's console, valid 24 hours: open whichever link the browser can reach; the first opened logs in and spends the others.")
	for _, l := range out.Links {
		fmt.Fprintln(stdout, l)
	}
	return nil
}

// commandDataDir is the data directory a command works on: its -data-dir flag, else
// MESH_DATA_DIR, else meshd's default.
func commandDataDir(flagValue string, getenv func(string) string) string {
	if flagValue != "" {
		return flagValue
	}
	if dir := getenv("MESH_DATA_DIR"); dir != "" {
		return dir
	}
	return defaultDataDir
}

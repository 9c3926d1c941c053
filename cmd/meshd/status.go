package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/smalruby/meshd/cmd/meshd/console"
	"github.com/smalruby/meshd/cmd/meshd/running"
)

// statusGroupLines is how many groups `meshd status` lists before it summarises the rest, so
// that the summary fits one terminal screen.
const statusGroupLines = 14

// status is `meshd status`: a one-screen summary of a running meshd, read from its /statusz.
func status(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("meshd status", flag.ContinueOnError)
	url := fs.String("url", "", "base URL of meshd's console (default: the address the meshd running on the data directory recorded there)")
	key := fs.String("key", "", "admin key (default: the first of MESH_ADMIN_KEYS, else the admin-key file in the data directory)")
	dataDir := fs.String("data-dir", "", "meshd's data directory, for its address and admin-key file (default: MESH_DATA_DIR, else meshd-data)")
	if err := parseCommand(fs, "Prints a one-screen summary of a running meshd from its /statusz.", args, stderr); err != nil {
		return err
	}
	dir := commandDataDir(*dataDir, getenv)
	// The meshd that holds the data directory, unless -url names one.
	at := statusTarget{base: strings.TrimRight(*url, "/"), client: http.DefaultClient}
	if at.base == "" {
		rec, err := running.Read(dir)
		if err != nil {
			return fmt.Errorf("status: %w (or pass -url)", err)
		}
		if at.client, err = running.Client(rec.URL, getenv("MESH_TLS_CERT")); err != nil {
			return err
		}
		at.base, at.rec, at.dir = rec.URL, &rec, dir
	}
	k, err := statusKey(*key, dir, getenv)
	if err != nil {
		return err
	}
	st, err := at.fetch(ctx, k)
	if err == nil && st.Server.RateSeconds == 0 {
		// The first sample after a quiet spell has no rates yet; the next one has.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(console.Tick + 100*time.Millisecond):
		}
		st, err = at.fetch(ctx, k)
	}
	if err != nil {
		return err
	}
	printStatus(stdout, st)
	return nil
}

func statusKey(flagKey, dataDir string, getenv func(string) string) (string, error) {
	if flagKey != "" {
		return flagKey, nil
	}
	if keys := getenv("MESH_ADMIN_KEYS"); keys != "" {
		first, _, _ := strings.Cut(keys, ",")
		return strings.TrimSpace(first), nil
	}
	key, _, err := readAdminKey(dataDir)
	return key, err
}

// statusTarget is the console meshd status reads: the one -url names, or the one the meshd
// running on dir recorded there (rec), whose answers must carry its instance.
type statusTarget struct {
	base   string
	client *http.Client
	rec    *running.Record
	dir    string
}

func (at statusTarget) fetch(ctx context.Context, key string) (*console.Status, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, at.base+"/statusz", nil)
	if err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := at.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("status: is meshd running? %w", err)
	}
	defer res.Body.Close()
	if at.rec != nil {
		if err := at.rec.Check(res, at.dir); err != nil {
			return nil, fmt.Errorf("status: %w", err)
		}
	}
	if res.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		return nil, fmt.Errorf("status: %s answered %s: %s", at.base+"/statusz", res.Status, strings.TrimSpace(string(body)))
	}
	st := new(console.Status)
	if err := json.NewDecoder(io.LimitReader(res.Body, 64<<20)).Decode(st); err != nil {
		return nil, fmt.Errorf("status: decode /statusz: %w", err)
	}
	return st, nil
}

func mib(n uint64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%.0f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

func clock(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	d = d.Round(time.Second)
	if h := d / time.Hour; h > 0 {
		return fmt.Sprintf("%d:%02d:%02d", h, d%time.Hour/time.Minute, d%time.Minute/time.Second)
	}
	return fmt.Sprintf("%d:%02d", d/time.Minute, d%time.Minute/time.Second)
}

// printStatus writes the one-screen summary.
func printStatus(w io.Writer, st *console.Status) {
	s := st.Server
	fmt.Fprintf(w, "meshd %s   up %s   CPU %.1f %%   memory %s (heap %s)   goroutines %d\n",
		s.Version, clock(time.Duration(s.UptimeSeconds*float64(time.Second))), s.CPUPercent, mib(s.MemoryBytes), mib(s.HeapBytes), s.Goroutines)
	fmt.Fprintf(w, "sockets %d   subscriptions %d   requests/s %.1f   messages/s %.1f\n",
		s.Sockets, s.Subscriptions, s.RequestsPerSecond, s.MessagesPerSecond)
	storeState := "ok"
	if s.Store.LastError != "" {
		storeState = "LAST COMMIT FAILED: " + s.Store.LastError
	}
	errs := "none"
	if len(s.RecentErrors) > 0 {
		kinds := make([]string, 0, len(s.RecentErrors))
		for k := range s.RecentErrors {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		for i, k := range kinds {
			kinds[i] = fmt.Sprintf("%s %d", k, s.RecentErrors[k])
		}
		errs = strings.Join(kinds, ", ")
	}
	fmt.Fprintf(w, "store %s %s %s   errors (last %.0f min): %s\n", s.Store.Kind, mib(uint64(s.Store.Bytes)), storeState, max(1, s.ErrorWindowSeconds/60), errs)
	fmt.Fprintf(w, "\n%s, %s\n", plural(s.Groups, "group"), plural(s.Members, "member"))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	// The group's hiragana come last: terminals draw them two columns wide, which tabwriter
	// cannot know.
	fmt.Fprintln(tw, "  DOMAIN\tMODE\tMEMBERS\tSUBS\tMSG/S\tENDS IN\tHOST HB\tSTATE\tGROUP")
	shown, total := 0, 0
	for _, d := range st.Domains {
		for _, g := range d.Groups {
			total++
			if shown == statusGroupLines {
				continue
			}
			shown++
			live := 0
			for _, m := range g.Members {
				if m.Live {
					live++
				}
			}
			mode, state := "ws", "live"
			if !g.UseWebSocket {
				mode = "poll"
			}
			if g.HostLate {
				state = "host late"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%d/%d\t%d\t%.1f\t%s\t%s\t%s\t【%s】\n", d.Domain, mode, live, len(g.Members), g.Subscriptions,
				g.MessagesPerSecond, clock(g.ExpiresAt.Sub(st.Taken)), clock(g.HostDeadline.Sub(st.Taken)), state, g.Kana)
		}
	}
	tw.Flush()
	if total > shown {
		fmt.Fprintf(w, "  … and %d more groups (the console at /console/ shows them all)\n", total-shown)
	}
	fmt.Fprintln(w, "\nA fresh login link to the console, for the teacher's browser: meshd console-link")
}

// readAdminKey reads the admin key kept in dir, without creating one.
func readAdminKey(dir string) (key, path string, err error) {
	key, path, err = console.LoadAdminKeyFile(dir)
	if err == nil && key == "" {
		err = errors.New("no admin key: pass -key, set MESH_ADMIN_KEYS, or point -data-dir at meshd's data directory")
	}
	return key, path, err
}

// plural is n and noun, with an s unless n is 1: "1 group", "2 groups".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if strings.HasSuffix(noun, "s") {
		return fmt.Sprintf("%d %ses", n, noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

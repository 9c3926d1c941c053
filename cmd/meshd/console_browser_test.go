package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/performance"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/smalruby/meshd/broker/brokertest"
	"github.com/smalruby/meshd/cmd/meshd/console"
	"github.com/smalruby/meshd/cmd/meshd/meshdtest"
	"github.com/smalruby/meshd/deploy/apttest"
	"github.com/smalruby/meshd/gql/realclient"
)

var updateScreenshots = flag.Bool("update-screenshots", false, "write the console's screenshots into cmd/meshd/console/screenshots/")

const (
	// screenshotDir is where -update-screenshots puts the README's pictures.
	screenshotDir = "console/screenshots"
	// chromiumPath is Debian's chromium package.
	chromiumPath = "/usr/bin/chromium"
	// consolePupilKey is the pupils' API key of the lesson; the console must refuse it.
	consolePupilKey = "da2-pupils-key-compiled-into-the-editor"
)

// TestConsoleInBrowser runs a short lesson with the editor's SDK (aws-appsync from Node)
// against the real meshd binary and watches it in the teacher's console in headless
// Chromium: login (refused keys, the one-time link), groups newest first as summary lines,
// connected / joined counts, members and variables updating in place, a pupil's state and
// last activity, names from a なまえ variable, the search, the lesson's CSV, the language
// switch, phone layout, projector mode, the bytes and CPU of a class of 80, dissolving from
// the keyboard and the ended-groups list, and no request leaving meshd's origin.
func TestConsoleInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium, Node and the real client library; not with -short")
	}
	chromium := ensureChromium(t)
	node, dir := realclient.Setup(t)

	data := t.TempDir()
	// The same address after a restart, for the page to reconnect to. The editor's timings,
	// shortened so that a closed tab, a reload and a host who leaves play out within the test:
	// hosts renew every 2 s and a group dies 45 s after its host's last renewal (the console's
	// late-host banner shows from 32 s: the interval and 30 s of grace); members send heartbeats
	// every 8 s, a polling group's every 6 s (three polls), and turn 応答なし 38 s and 36 s after
	// their last one; dead groups are swept (and listed as ended) within a second.
	addr, err := meshdtest.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	p := startMeshd(t, "-data-dir", data, "-api-keys", consolePupilKey, "-listen-addr", addr,
		"-host-heartbeat-interval-seconds", "2", "-host-heartbeat-ttl-seconds", "45", "-member-heartbeat-interval-seconds", "8", "-sweep-interval", "1s")
	link := logLine(t, p, loginLink)[1]
	base := strings.TrimSuffix(p.URL, "/graphql")

	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("accept-lang", "ja-JP,ja"),
		chromedp.Flag("lang", "ja-JP"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1366, 768),
	)
	defer cancelAlloc()
	browser, closeBrowser := chromedp.NewContext(alloc)
	defer closeBrowser()

	// Every request of every tab, and every uncaught script error.
	var mu sync.Mutex
	var requests, jsErrors []string
	streams := map[network.RequestID]bool{}
	var streamBytes int64
	watch := func(tab context.Context) {
		t.Helper()
		if err := chromedp.Do(tab); err != nil {
			t.Fatalf("open tab: %v", err)
		}
		if err := chromedp.Listen(tab, func(ev any) {
			mu.Lock()
			defer mu.Unlock()
			switch e := ev.(type) {
			case *network.EventRequestWillBeSent:
				requests = append(requests, e.Request.URL)
				if strings.HasSuffix(e.Request.URL, "/console/api/stream") {
					streams[e.RequestID] = true
				}
			case *network.EventDataReceived:
				if streams[e.RequestID] {
					streamBytes += e.EncodedDataLength
				}
			case *runtime.EventExceptionThrown:
				jsErrors = append(jsErrors, e.ExceptionDetails.Text+" "+describeException(e.ExceptionDetails))
			}
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := chromedp.Call(tab, network.Enable, network.EnableParams{}); err != nil {
			t.Fatal(err)
		}
	}
	tab := browser
	watch(tab)
	do(t, tab, chromedp.EmulateViewport(1366, 768))

	// Without a session the page asks for a key; wrong keys and the pupils' key are refused.
	do(t, tab, chromedp.Navigate(base+"/console/"))
	waitJS(t, tab, "the login form in Japanese", `!document.querySelector('#login').hidden && document.documentElement.lang === 'ja' && document.querySelector('#login-h').textContent === '先生用コンソール'`)
	for _, key := range []string{"not-the-admin-key", consolePupilKey} {
		do(t, tab, chromedp.Evaluate[chromedp.Void](`document.querySelector('#login-error').textContent = ''`),
			chromedp.SendKeys("#key", key), chromedp.KeyEvent("\r"))
		waitJS(t, tab, "the refusal of "+key, `document.querySelector('#login-error').textContent !== '' && document.querySelector('#app').hidden`)
		do(t, tab, chromedp.Evaluate[chromedp.Void](`document.querySelector('#key').value = ''`))
	}
	_, metrics := get(t, http.DefaultClient, base+"/metrics")
	if metricValue(t, metrics, `meshd_console_auth_failures_total{reason="wrong"}`) != 1 || metricValue(t, metrics, `meshd_console_auth_failures_total{reason="api_key"}`) != 1 {
		t.Errorf("the refused keys are not counted:\n%s", grepLines(metrics, "console"))
	}
	if code, _ := get(t, http.DefaultClient, base+"/statusz"); code != http.StatusUnauthorized {
		t.Errorf("/statusz without a key: %d", code)
	}

	// The one-time link logs in.
	do(t, tab, chromedp.Navigate(link))
	waitJS(t, tab, "the console after the login link", `!document.querySelector('#app').hidden && location.search === ''`)
	// The late-host banner shows only while a group's host is late and the group still lives: the
	// page records every banner it shows, for the test to find later whenever it looks.
	do(t, tab, chromedp.Evaluate[chromedp.Void](bannerRecorder))
	// Each group is one summary line until the teacher opens it; the test opens them all.
	const openAll = `(document.querySelectorAll('.gdet:not([open])').forEach((d) => { d.open = true; }), true) && `

	// A class of 80 pupils, each changing a variable every second, costs the open page at
	// most 5 kB/s on the wire and under 20 % of a core: the renderer's CPU time over the
	// browser's own clock, both as Chromium reports them. Measured before the lesson, with
	// nothing else on the page: the status of 80 pupils (about 37 kB) is larger than gzip's
	// 32 kB window, so each second's is compressed on its own and whatever else the page shows
	// adds to every second's bytes.
	busy := busyClass(t, p, 80)
	waitJS(t, tab, "the class of 80", openAll+fmt.Sprintf(`document.querySelectorAll('[data-group=%q] tbody tr').length === 80`, busy.group+"@"+busy.domain))
	if _, err := chromedp.Call(tab, performance.Enable, performance.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	metric := func() (task, at float64, bytes int64) {
		res, err := chromedp.Call(tab, performance.GetMetrics, cdp.Empty{})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range res.Metrics {
			switch m.Name {
			case "ProcessTime": // the renderer process's CPU time, in seconds
				task = m.Value
			case "Timestamp":
				at = m.Value
			}
		}
		mu.Lock()
		defer mu.Unlock()
		return task, at, streamBytes
	}
	task0, at0, bytes0 := metric()
	for range 10 {
		busy.round(t)
		time.Sleep(time.Second)
	}
	task1, at1, bytes1 := metric()
	busy.stop()
	span := at1 - at0
	bytesPerSecond, cpu := float64(bytes1-bytes0)/span, (task1-task0)/span
	t.Logf("80 pupils: the page received %.0f bytes/s and used %.1f %% of a core over %.1f s (browser's clock)", bytesPerSecond, 100*cpu, span)
	if bytes1 == bytes0 || bytesPerSecond > 5000 {
		t.Errorf("the stream at 80 pupils: %.0f bytes/s, want some, at most 5000", bytesPerSecond)
	}
	if cpu <= 0 || cpu >= 0.2 {
		t.Errorf("the page at 80 pupils used %.1f %% of a core, want under 20 %%", 100*cpu)
	}

	lesson := startLesson(t, node, dir, p.URL)
	ready := lesson.next(t, "ready")
	var r struct {
		Domain, GroupID, HostID                         string
		Members                                         []string
		Closing, Reloading                              string
		LeavingGroupID, LeavingHostID, LeavingMember    string
		PollingGroupID, PollingMember, PollingClosing   string
		MemberHeartbeatSeconds, PollingHeartbeatSeconds int
	}
	remarshal(t, ready["ready"], &r)
	if r.MemberHeartbeatSeconds != 8 || r.PollingHeartbeatSeconds != 6 {
		t.Errorf("the editor was told heartbeats every %d s (WebSocket) and %d s (polling), want 8 and 6", r.MemberHeartbeatSeconds, r.PollingHeartbeatSeconds)
	}
	card := fmt.Sprintf(`document.querySelector('[data-group=%q]')`, r.GroupID+"@"+r.Domain)
	chip := func(nodeID, key string) string {
		return fmt.Sprintf(`(%s?.querySelector('tr[data-node=%q] [data-var=%q] .v')?.textContent ?? '')`, card, nodeID, key)
	}
	rowIn := func(card, nodeID string) string {
		return fmt.Sprintf(`%s.querySelector('tr[data-node=%q]')`, card, nodeID)
	}
	row := func(nodeID string) string { return rowIn(card, nodeID) }
	waitJS(t, tab, "the group, its members and their variables", openAll+strings.Join([]string{
		fmt.Sprintf(`%s?.querySelector('h3')?.textContent === %q`, card, "【"+console.Kana(r.HostID)+"】"),
		fmt.Sprintf(`%s.querySelector('tr[data-node=%q] .kana').textContent === %q`, card, r.Members[0], console.Kana(r.Members[0])),
		fmt.Sprintf(`%s.querySelector('tr[data-node=%q] .kana').textContent === %q`, card, r.Members[1], console.Kana(r.Members[1])),
		chip(r.HostID, "stage") + ` === 'intro'`,
		chip(r.Members[0], "score") + ` === '0'`,
		chip(r.Members[1], "score") + ` === '10'`,
		fmt.Sprintf(`%s.querySelector('[data-meta="subs"] b').textContent === '5'`, card),
		fmt.Sprintf(`%s.querySelector('.counts').textContent === '接続 5 / 参加 5'`, card),
		fmt.Sprintf(`%s.querySelector('.feed').textContent.includes('hello from m1')`, card),
		fmt.Sprintf(`%s.querySelector('.feed').textContent.includes('hello from m2')`, card),
	}, " && "))
	pollingCard := fmt.Sprintf(`document.querySelector('[data-group=%q]')`, r.PollingGroupID+"@"+r.Domain)
	waitJS(t, tab, "the polling classroom", openAll+strings.Join([]string{
		pollingCard + `?.querySelector('.badge.mode')?.textContent === 'ポーリング'`,
		fmt.Sprintf(`%s.querySelector('tr[data-node=%q] [data-var="lives"] .v').textContent === '3'`, pollingCard, r.PollingMember),
		fmt.Sprintf(`%s.querySelector('[data-meta="subs"] b').textContent === '0'`, pollingCard),
		pollingCard + `.querySelector('.counts').textContent === '接続 0 / 参加 3'`,
		// Newest groups first: the polling classroom was created last.
		`document.querySelector('.group') === ` + pollingCard,
		// One domain: its heading is hidden.
		`document.querySelector('.domain > h2').hidden`,
	}, " && "))

	// Tabs close, as they do in a lesson: a pupil's (its subscription goes at once: 接続 drops;
	// it stays joined until its membership's TTL), the host's of the leaving class, a polling
	// pupil's. What they turn into once they missed their heartbeats is checked further down,
	// when that time has passed.
	leavingCard := fmt.Sprintf(`document.querySelector('[data-group=%q]')`, r.LeavingGroupID+"@"+r.Domain)
	closedAt := time.Now()
	for _, node := range []string{r.Closing, r.LeavingHostID, r.PollingClosing} {
		lesson.send(t, map[string]any{"close": node})
		lesson.next(t, "closed")
	}
	waitJS(t, tab, "the closed tabs' connections gone", strings.Join([]string{
		card + `.querySelector('.counts').textContent === '接続 4 / 参加 5'`,
		leavingCard + `.querySelector('.counts').textContent === '接続 1 / 参加 2'`,
		pollingCard + `.querySelector('.counts').textContent === '接続 0 / 参加 3'`,
	}, " && "))
	// A pupil reloads the editor: a new node id joins and reports the same なまえ.
	lesson.send(t, map[string]any{"reload": r.Reloading})
	reloaded, _ := lesson.next(t, "reloaded")["as"].(string)
	waitJS(t, tab, "the reloaded pupil's new row", openAll+strings.Join([]string{
		row(reloaded) + `.querySelector('.name').textContent === 'さくら'`,
		row(r.Reloading) + `.querySelector('.name').textContent === 'さくら'`,
		card + `.querySelector('.counts').textContent === '接続 4 / 参加 6'`,
	}, " && "))

	// A new report shows in place: the stream brings it, the page is not loaded again. How
	// long it takes is logged, never asserted (the machine may be busy).
	if _, err := chromedp.Run(tab, chromedp.Evaluate[bool](`window.meshdTestMark = true`)); err != nil {
		t.Fatal(err)
	}
	for i, value := range []string{"99", "100"} {
		lesson.send(t, map[string]any{"report": map[string]string{"node": r.Members[0], "key": "score", "value": value}})
		lesson.next(t, "reported")
		start := time.Now()
		waitJS(t, tab, "the new score "+value, chip(r.Members[0], "score")+` === '`+value+`'`)
		t.Logf("report %d reached the page %s after the mutation returned", i+1, time.Since(start).Round(time.Millisecond))
		waitJS(t, tab, "the page not loaded again", `window.meshdTestMark === true`)
	}
	waitJS(t, tab, "the pupil who just reported: active, seconds ago", row(r.Members[0])+`.dataset.state === 'active' && /^\d+秒前$/.test(`+row(r.Members[0])+`.querySelector('.seen').textContent) && `+row(r.Members[0])+`.querySelector('.dot').textContent === '● 活動中'`)
	lesson.send(t, map[string]any{"fire": map[string]string{"node": r.Members[1], "name": "jump!"}})
	lesson.next(t, "fired")
	waitJS(t, tab, "the event in the feed", card+`.querySelector('.feed li:first-child .ev').textContent === 'jump!'`)

	// A variable called なまえ names the pupils: rows are labelled and sorted by it, and the
	// search finds a pupil by it across groups (まゆ: no node id's 【kana】 can hold ま or ゆ).
	for i, name := range []string{"たろう", "まゆみ"} {
		lesson.send(t, map[string]any{"report": map[string]string{"node": r.Members[i], "key": "なまえ", "value": name}})
		lesson.next(t, "reported")
	}
	waitJS(t, tab, "the pupils named by なまえ", strings.Join([]string{
		`document.querySelector('#namevar').value === 'なまえ'`,
		row(r.Members[0]) + `.querySelector('.name').textContent === 'たろう'`,
		row(r.Members[1]) + `.querySelector('.name').textContent === 'まゆみ'`,
		// The host first, then by name: じろう before たろう before まゆみ.
		fmt.Sprintf(`((ids) => ids[0] === %q && ids.indexOf(%q) < ids.indexOf(%q) && ids.indexOf(%q) < ids.indexOf(%q))([...%s.querySelectorAll('tbody tr')].map((tr) => tr.dataset.node))`,
			r.HostID, r.Closing, r.Members[0], r.Members[0], r.Members[1], card),
	}, " && "))
	do(t, tab, chromedp.SendKeys("#search", "まゆ"))
	waitJS(t, tab, "the search for まゆ", row(r.Members[1])+`.hidden === false && `+row(r.Members[0])+`.hidden && `+pollingCard+`.hidden`)
	do(t, tab, chromedp.Evaluate[chromedp.Void](`(() => { const s = document.querySelector('#search'); s.value = ''; s.dispatchEvent(new Event('input')); })()`))
	waitJS(t, tab, "the search cleared", row(r.Members[0])+`.hidden === false && !`+pollingCard+`.hidden`)

	// The lesson's record as CSV, from meshd's record: members, variables over time, messages.
	csv, err := chromedp.Run(tab, chromedp.Evaluate[string](fmt.Sprintf(`lessonCSV(%q)`, r.GroupID+"@"+r.Domain), chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"kind,time,node,kana,name,key,value", "member,", ",score,99\r\n", ",score,100\r\n", "message,", ",jump!,"} {
		if !strings.Contains(csv, want) {
			t.Errorf("the lesson's CSV lacks %q:\n%s", want, csv)
		}
	}
	if !strings.Contains(csv, r.Members[0]+","+console.Kana(r.Members[0])+",たろう,score,100") {
		t.Errorf("the CSV does not name the pupil by なまえ:\n%s", csv)
	}
	var st console.Status
	statusz(t, base, p, &st)
	for _, g := range st.Domains[0].Groups {
		if want, ok := map[string]int{r.GroupID: 4, r.PollingGroupID: 0}[g.ID]; ok && g.Subscriptions != want {
			t.Errorf("/statusz: group %s has %d subscriptions, want %d", g.ID, g.Subscriptions, want)
		}
	}
	if n := len(st.Domains[0].Groups); n != 3 {
		t.Errorf("/statusz: %d groups, want 3", n)
	}
	waitJS(t, tab, "the school-laptop layout without sideways scrolling", `document.documentElement.scrollWidth <= window.innerWidth`)
	if low, err := chromedp.Run(tab, chromedp.Evaluate[[]string](contrastCheck)); err != nil || len(low) > 0 {
		t.Errorf("text below WCAG AA contrast (4.5:1): %v %v", low, err)
	}
	shots := map[string][]byte{}

	// Copy the join name, from the keyboard.
	for _, name := range []string{"clipboard-read", "clipboard-write"} {
		if _, err := chromedp.CallBrowser(tab, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
			Permission: &cdpbrowser.PermissionDescriptor{Name: name}, Setting: cdpbrowser.PermissionSettingGranted, Origin: base,
		}); err != nil {
			t.Fatal(err)
		}
	}
	kana := console.Kana(r.HostID)
	do(t, tab, chromedp.Focus(`[data-group="`+r.GroupID+"@"+r.Domain+`"] button.copy`), chromedp.KeyEvent("\r"))
	waitJS(t, tab, "the copied notice", fmt.Sprintf(`document.querySelector('#toast').textContent === %q`, kana+" をコピーしました"))
	if got, err := chromedp.Run(tab, chromedp.Evaluate[string](`navigator.clipboard.readText()`, chromedp.EvalAwaitPromise)); err != nil || got != kana {
		t.Errorf("the clipboard holds %q (%v), want the join name %q", got, err, kana)
	}

	// A browser in English gets English; the switch changes the language.
	en, closeEn := chromedp.NewContext(browser)
	defer closeEn()
	watch(en)
	if _, err := chromedp.Call(en, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{
		UserAgent: "Mozilla/5.0 (X11; Linux x86_64) meshd-console-test", AcceptLanguage: "en-US,en",
	}); err != nil {
		t.Fatal(err)
	}
	do(t, en, chromedp.EmulateViewport(1366, 768), chromedp.Navigate(base+"/console/"))
	waitJS(t, en, "the console in English", openAll+`document.documentElement.lang === 'en' && document.querySelector('#classroom-h').textContent === 'Classroom' && `+chip(r.Members[0], "score")+` === '100'`)
	shots["console-en.png"] = screenshot(t, en)
	do(t, en, chromedp.Focus("#lang"), chromedp.KeyEvent("\r"))
	waitJS(t, en, "the switch to Japanese", `document.documentElement.lang === 'ja' && document.querySelector('#classroom-h').textContent === '教室'`)
	do(t, en, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateScale(2)))
	waitJS(t, en, "the phone layout without sideways scrolling", `document.documentElement.scrollWidth <= window.innerWidth && `+card+`.getBoundingClientRect().width <= window.innerWidth`)
	shots["console-phone.png"] = screenshot(t, en)
	closeEn()

	// Projector mode: large type, no dissolving or admin controls.
	do(t, tab, chromedp.EmulateViewport(1366, 768), chromedp.Click("#projector"))
	waitJS(t, tab, "projector mode", `document.documentElement.classList.contains('projector') && location.search.includes('projector=1') && `+
		card+`.querySelector('button.dissolve').offsetParent === null && document.querySelector('#logout').offsetParent === null && document.querySelector('#server').offsetParent === null`)
	shots["console-projector.png"] = screenshot(t, tab)
	do(t, tab, chromedp.Click("#projector"))
	waitJS(t, tab, "projector mode left", `!document.documentElement.classList.contains('projector') && `+card+`.querySelector('button.dissolve').offsetParent !== null`)

	// By now, or within the heartbeat interval and its grace, the tabs that closed stopped
	// answering (waited for, never timed). The closed tab is 応答なし and counted so; the reload
	// is marked as the same pupil and not counted as one who does not answer, nor twice.
	waitedFrom := time.Now()
	waitJSWithin(t, tab, silenceDeadline, "the closed tab not answering and the reload marked", openAll+strings.Join([]string{
		row(r.Closing) + `.dataset.state === 'silent'`,
		row(r.Closing) + `.querySelector('.dot').textContent === '○ 応答なし'`,
		row(r.Closing) + `.querySelector('.name').textContent === 'じろう'`,
		card + `.querySelector('.silentn').textContent === '応答なし 1 人'`,
		row(r.Reloading) + `.classList.contains('reloaded')`,
		row(r.Reloading) + `.querySelector('.role').textContent === '再読み込み前'`,
		row(reloaded) + `.dataset.state === 'active'`,
		card + `.querySelector('tbody tr:last-child') === ` + row(r.Reloading),
		card + `.querySelector('.counts').textContent === '接続 4 / 参加 5'`,
	}, " && "))
	// Polling pupils have no socket: their heartbeats (every three polls) tell who is there.
	waitJSWithin(t, tab, silenceDeadline, "the polling class: one closed tab", openAll+strings.Join([]string{
		rowIn(pollingCard, r.PollingClosing) + `.dataset.state === 'silent'`,
		rowIn(pollingCard, r.PollingMember) + `.dataset.state === 'active'`,
		pollingCard + `.querySelector('.silentn').textContent === '応答なし 1 人'`,
		pollingCard + `.querySelector('.counts').textContent === '接続 0 / 参加 3'`,
		pollingCard + `.querySelector('.badge.state').textContent === '進行中'`,
	}, " && "))
	// The host who left: the banner showed while the group still lived, then meshd ended the
	// group (its host's heartbeat TTL) and the page moved it to the ended groups, ended because
	// the host stopped answering.
	waitJSWithin(t, tab, silenceDeadline, "the leaving class ended, host gone", strings.Join([]string{
		fmt.Sprintf(`window.meshdBanners[%q] === 'ホストの応答がありません。ホストの画面が閉じられた可能性があります。'`, r.LeavingGroupID+"@"+r.Domain),
		fmt.Sprintf(`document.querySelector('#ended-list li[data-reason="host gone"]')?.textContent.startsWith(%q)`, "【"+console.Kana(r.LeavingHostID)+"】"),
		`document.querySelector('#ended-list li[data-reason="host gone"]').textContent.includes('ホストの応答なし')`,
		// An ended group leaves the classroom: it shows once, among the ended groups.
		leavingCard + ` === null`,
	}, " && "))
	t.Logf("the closed tabs were flagged and the leaving class listed as ended %s after the tabs closed (the test waited %s for it)",
		time.Since(closedAt).Round(time.Second), time.Since(waitedFrom).Round(time.Second))
	if strings.Contains(grepLines(p.Logs(), "group expired"), r.GroupID) {
		t.Errorf("the class whose host kept renewing ended:\n%s", grepLines(p.Logs(), "group"))
	}
	// The picture of the lesson: the class open, the other groups as their summary lines.
	do(t, tab, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelectorAll('.gdet').forEach((d) => { d.open = d.closest('.group') === %s; }); window.scrollTo(0, 0)`, card)))
	waitJS(t, tab, "the class open alone", fmt.Sprintf(`document.querySelectorAll('.gdet[open]').length === 1 && %s.querySelector('.gdet').open`, card))
	shots["console-ja.png"] = screenshot(t, tab)

	// Dissolve from the keyboard; the members' subscriptions get the host's dissolve message.
	do(t, tab, chromedp.Focus(`[data-group="`+r.GroupID+"@"+r.Domain+`"] button.dissolve`), chromedp.KeyEvent("\r"))
	waitJS(t, tab, "the confirmation dialog", `document.querySelector('#confirm').open && document.querySelector('#confirm-text').textContent.includes('【')`)
	do(t, tab, chromedp.Focus(`#confirm button[value=ok]`), chromedp.KeyEvent("\r"))
	want := "Group " + r.GroupID + "@" + r.Domain + " has been dissolved successfully."
	got := map[string]bool{}
	for _, m := range append(r.Members, reloaded) {
		got[m] = false
	}
	for slices.Contains(slices.Collect(maps.Values(got)), false) {
		m := lesson.next(t, "dissolved")
		if m["message"] != want {
			t.Errorf("member %v got %q, want the host's dissolve message %q", m["dissolved"], m["message"], want)
		}
		if _, ok := got[fmt.Sprint(m["dissolved"])]; !ok {
			t.Errorf("%v got the dissolve message, not an open pupil of the class", m["dissolved"])
		}
		got[fmt.Sprint(m["dissolved"])] = true
	}
	waitJS(t, tab, "the group to leave the page", card+` === null && `+pollingCard+` !== null`)
	waitJS(t, tab, "the dissolved group in the list of ended groups", fmt.Sprintf(`document.querySelector('#ended-list li[data-reason="dissolved"]')?.textContent.startsWith(%q)`, "【"+console.Kana(r.HostID)+"】"))
	if err := lesson.wait(); err != nil {
		t.Errorf("the lesson script: %v", err)
	}

	// meshd restarts (a crash, a power cut): the page reconnects by itself, still logged in,
	// and shows what the new process serves.
	do(t, tab, chromedp.Evaluate[chromedp.Void](`window.meshdTestMark = 'before the restart'`))
	restartedAt := time.Now()
	if err := p.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	afterRestart := p.post(t, `mutation($n: String!, $h: ID!, $d: String) { createGroup(name: $n, hostId: $h, domain: $d) { id } }`,
		map[string]any{"n": "a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5", "h": "a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5", "d": r.Domain})["createGroup"].(map[string]any)["id"].(string)
	waitJSWithin(t, tab, silenceDeadline, "the page reconnected after the restart, still logged in", strings.Join([]string{
		fmt.Sprintf(`document.querySelector('[data-group=%q]') !== null`, afterRestart+"@"+r.Domain),
		`document.querySelector('#login').hidden`,
		`!document.querySelector('#app').hidden`,
		`document.querySelector('#conn').textContent === '接続中'`,
		`window.meshdTestMark === 'before the restart'`,
	}, " && "))
	t.Logf("the page showed the restarted meshd's classroom %s after the restart began", time.Since(restartedAt).Round(100*time.Millisecond))
	// A new admin key (the old one was leaked, say) ends every session: after the next restart
	// the page says that a new login is needed, and the new key logs in.
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(data, console.AdminKeyFile)); err != nil {
		t.Fatal(err)
	}
	if err := p.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	waitJSWithin(t, tab, silenceDeadline, "the page asking for a new login", strings.Join([]string{
		`!document.querySelector('#login').hidden`,
		`document.querySelector('#app').hidden`,
		`document.querySelector('#login-error').textContent === 'ログインの有効期限が切れました。もう一度ログインしてください。'`,
	}, " && "))
	newKey, _, err := readAdminKey(data)
	if err != nil {
		t.Fatal(err)
	}
	do(t, tab, chromedp.SendKeys("#key", newKey), chromedp.KeyEvent("\r"))
	waitJS(t, tab, "the console after the new login", fmt.Sprintf(`!document.querySelector('#app').hidden && document.querySelector('[data-group=%q]') !== null`, afterRestart+"@"+r.Domain))

	mu.Lock()
	defer mu.Unlock()
	if len(requests) < 5 {
		t.Errorf("only %d requests seen: the network listener is not working", len(requests))
	}
	for _, u := range requests {
		if !strings.HasPrefix(u, base+"/") && !strings.HasPrefix(u, "data:") {
			t.Errorf("the page requested %s, outside meshd's origin %s", u, base)
		}
	}
	if len(jsErrors) > 0 {
		t.Errorf("script errors on the page: %v", jsErrors)
	}
	for name, png := range shots {
		if len(png) < 10000 || string(png[1:4]) != "PNG" {
			t.Errorf("%s: %d bytes, not a screenshot", name, len(png))
		}
		if *updateScreenshots {
			if err := os.MkdirAll(screenshotDir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(screenshotDir, name), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// busy is a class of pupils in one group whose every pupil reports each round.
type busy struct {
	p      *process
	group  string
	domain string
	nodes  []string
	n      int
}

// busyClass creates a group of n pupils (its host and n-1 members) over meshd's API, each
// with a name and two variables.
func busyClass(t *testing.T, p *process, n int) *busy {
	t.Helper()
	p.key = consolePupilKey
	b := &busy{p: p, domain: p.post(t, `mutation { createDomain }`, nil)["createDomain"].(string)}
	for i := range n {
		b.nodes = append(b.nodes, fmt.Sprintf("%08x%024d", 0xc1a55, i))
	}
	g := p.post(t, `mutation($n: String!, $h: ID!, $d: String) { createGroup(name: $n, hostId: $h, domain: $d) { id } }`,
		map[string]any{"n": b.nodes[0], "h": b.nodes[0], "d": b.domain})
	b.group = g["createGroup"].(map[string]any)["id"].(string)
	for _, node := range b.nodes[1:] {
		p.post(t, `mutation($g: ID!, $d: String!, $n: ID!) { joinGroup(groupId: $g, domain: $d, nodeId: $n) { id } }`,
			map[string]any{"g": b.group, "d": b.domain, "n": node})
	}
	b.round(t)
	return b
}

// round has every pupil report its variables, one of them changed, and the host renew its
// heartbeat, as the editor does every few seconds.
func (b *busy) round(t *testing.T) {
	t.Helper()
	b.n++
	b.p.postQuiet(`mutation($g: ID!, $d: String!, $h: ID!) { renewHeartbeat(groupId: $g, domain: $d, hostId: $h) { expiresAt } }`,
		map[string]any{"g": b.group, "d": b.domain, "h": b.nodes[0]})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(b.nodes); i += 4 {
				b.p.postQuiet(`mutation($g: ID!, $d: String!, $n: ID!, $data: [SensorDataInput!]!) { reportDataByNode(groupId: $g, domain: $d, nodeId: $n, data: $data) { groupId } }`,
					map[string]any{"g": b.group, "d": b.domain, "n": b.nodes[i], "data": []map[string]string{
						{"key": "なまえ", "value": fmt.Sprintf("せいと%02d", i)}, {"key": "score", "value": fmt.Sprint(b.n*7 + i)}, {"key": "x", "value": fmt.Sprint((b.n * 13) % 240)},
					}})
			}
		}()
	}
	wg.Wait()
}

// stop ends the class: its host dissolves the group.
func (b *busy) stop() {
	b.p.postQuiet(`mutation($g: ID!, $d: String!, $h: ID!) { dissolveGroup(groupId: $g, domain: $d, hostId: $h) { groupId } }`,
		map[string]any{"g": b.group, "d": b.domain, "h": b.nodes[0]})
}

// bannerRecorder makes the page keep, in window.meshdBanners by group, the text of every
// late-host banner it shows.
const bannerRecorder = `(() => {
  window.meshdBanners = {};
  const look = () => {
    for (const b of document.querySelectorAll('.group .banner')) {
      if (!b.hidden && b.textContent) window.meshdBanners[b.closest('.group').dataset.group] = b.textContent;
    }
  };
  new MutationObserver(look).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true, attributeFilter: ['hidden'] });
})()`

// contrastCheck lists every visible text element whose colour is below 4.5:1 against the
// background it sits on (WCAG AA for normal text).
const contrastCheck = `(() => {
  const rgb = (c) => (c.match(/[\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => [r, g, b].map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
    .reduce((s, v, i) => s + v * [0.2126, 0.7152, 0.0722][i], 0);
  const bg = (el) => {
    for (; el; el = el.parentElement) {
      const c = rgb(getComputedStyle(el).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0.5)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const low = [];
  for (const el of document.querySelectorAll('body *')) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own || !el.getClientRects().length || el.closest('[hidden], dialog:not([open]), #toast, svg')) continue;
    const a = lum(rgb(getComputedStyle(el).color).slice(0, 3)), b = lum(bg(el));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) low.push(el.tagName + '.' + el.className + ' "' + el.textContent.trim().slice(0, 20) + '" ' + ratio.toFixed(2));
  }
  return low;
})()`

func describeException(d *runtime.ExceptionDetails) string {
	if d.Exception != nil {
		return d.Exception.Description
	}
	return fmt.Sprintf("line %d", d.LineNumber)
}

func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

// silenceDeadline bounds the waits for what only time brings: a closed tab missing its
// heartbeat, a group's host heartbeat TTL, a restart.
const silenceDeadline = 2 * time.Minute

// waitJS polls the page until the expression is true (bounded): the assertion is the state,
// never a fixed sleep.
func waitJS(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	waitJSWithin(t, ctx, 20*time.Second, what, expr)
}

// waitJSWithin is waitJS with its own deadline.
func waitJSWithin(t *testing.T, ctx context.Context, d time.Duration, what, expr string) {
	t.Helper()
	deadline := time.Now().Add(d)
	var last error
	for time.Now().Before(deadline) {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { try { return !!(`+expr+`); } catch (e) { return false; } })()`))
		if err == nil && ok {
			return
		}
		last = err
		time.Sleep(25 * time.Millisecond)
	}
	html, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('main')?.innerText ?? ''`))
	t.Fatalf("timed out waiting for %s (%v); the page shows:\n%s", what, last, html)
}

func screenshot(t *testing.T, ctx context.Context) []byte {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	return png
}

func statusz(t *testing.T, base string, p *process, st *console.Status) {
	t.Helper()
	key, _, err := readAdminKey(filepath.Dir(logLine(t, p, loginLink)[2]))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", base+"/statusz", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if err := json.NewDecoder(res.Body).Decode(st); err != nil || len(st.Domains) != 1 {
		t.Fatalf("/statusz: %v %+v", err, st)
	}
}

func remarshal(t *testing.T, from, to any) {
	t.Helper()
	b, _ := json.Marshal(from)
	if err := json.Unmarshal(b, to); err != nil {
		t.Fatal(err)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// lesson is the running console-lesson.mjs: JSON lines in both directions.
type lesson struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan map[string]any
	log   *brokertest.Logs
	done  chan error
}

func startLesson(t *testing.T, node, dir, url string) *lesson {
	t.Helper()
	cmd := exec.Command(node, "console-lesson.mjs")
	cmd.Dir = dir
	// The script lives until the teacher dissolves the class, after the closed tabs went silent:
	// longer than the harness's default limit for a test file.
	cmd.Env = append(os.Environ(), "MESHD_HTTP_URL="+url, "MESHD_API_KEY="+consolePupilKey, "NO_COLOR=1", "MESHD_FILE_LIMIT_MS=300000")
	l := &lesson{cmd: cmd, lines: make(chan map[string]any, 16), log: &brokertest.Logs{}, done: make(chan error, 1)}
	cmd.Stderr = l.log
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if l.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				l.log.Write([]byte("stdout: " + sc.Text() + "\n"))
				continue
			}
			l.lines <- m
		}
		close(l.lines)
		l.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		l.stdin.Close()
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
		}
	})
	return l
}

// next returns the script's next message, which must carry key.
func (l *lesson) next(t *testing.T, key string) map[string]any {
	t.Helper()
	select {
	case m, ok := <-l.lines:
		if !ok {
			t.Fatalf("the lesson script ended before %q:\n%s", key, l.log)
		}
		if _, has := m[key]; !has {
			t.Fatalf("the lesson script said %v, want %q:\n%s", m, key, l.log)
		}
		return m
	case <-time.After(60 * time.Second):
		t.Fatalf("no %q from the lesson script:\n%s", key, l.log)
		return nil
	}
}

func (l *lesson) send(t *testing.T, cmd map[string]any) {
	t.Helper()
	b, _ := json.Marshal(cmd)
	if _, err := l.stdin.Write(append(b, '\n')); err != nil {
		t.Fatalf("write to the lesson script: %v\n%s", err, l.log)
	}
}

func (l *lesson) wait() error {
	l.stdin.Close()
	select {
	case err := <-l.done:
		if err != nil {
			return fmt.Errorf("%w\n%s", err, l.log)
		}
		return nil
	case <-time.After(30 * time.Second):
		return errors.New("did not exit\n" + l.log.String())
	}
}

// ensureChromium returns Debian's chromium, installing the package when it is missing (as
// the Node tests install their npm packages), so that the test command passes on a fresh
// machine.
func ensureChromium(t *testing.T) string {
	t.Helper()
	return apttest.Tool(t, chromiumPath, "chromium")
}

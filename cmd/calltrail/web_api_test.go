package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/calltrail/calltrail/callgraph"
	"github.com/calltrail/calltrail/internal/api"
	"github.com/calltrail/calltrail/internal/store"
)

var httpAddrRE = regexp.MustCompile(`msg="http listening" addr=(\S+)`)

// startCommand runs a calltrail command that serves HTTP until the test
// ends, and returns its base URL.
func startCommand(t *testing.T, args ...string) (base string, errb *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errb = new(syncBuffer)
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, io.Discard, errb) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("calltrail %s: %v", args[0], err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("calltrail %s did not stop", args[0])
		}
	})
	for deadline := time.Now().Add(10 * time.Second); ; {
		if m := httpAddrRE.FindStringSubmatch(errb.String()); m != nil {
			return "http://" + m[1], errb
		}
		if time.Now().After(deadline) {
			t.Fatalf("no HTTP address announced:\n%s", errb.String())
		}
		select {
		case err := <-done:
			done <- err
			t.Fatalf("calltrail %s ended: %v\n%s", args[0], err, errb.String())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func get(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// TestWebAPI runs "calltrail web" on a database and reads its calls.
func TestWebAPI(t *testing.T) {
	t.Setenv("CALLTRAIL_TOKEN", "reader")
	t.Setenv("CALLTRAIL_ADMIN_TOKEN", "")
	db := testDB(t, "S06", "S08", "S21")
	base, _ := startCommand(t, "web", "--db", db, "--listen", "127.0.0.1:0")

	if code, body := get(t, base+"/api/v1/calls", ""); code != 401 {
		t.Errorf("no token: %d %s", code, body)
	}
	code, body := get(t, base+"/api/v1/calls", "reader")
	if code != 200 {
		t.Fatalf("GET /api/v1/calls: %d %s", code, body)
	}
	var page struct {
		Calls []struct {
			ID     string `json:"call_id"`
			Server string `json:"server"`
		}
	}
	if err := json.Unmarshal([]byte(body), &page); err != nil {
		t.Fatal(err)
	}
	if got, want := len(page.Calls), len(golden(t, "S06", "S08", "S21")); got != want {
		t.Errorf("got %d calls, want %d", got, want)
	}
	if code, _ := get(t, base+"/healthz", ""); code != 200 {
		t.Errorf("/healthz: %d", code)
	}
	if code, body := get(t, base+"/readyz", ""); code != 200 {
		t.Errorf("/readyz: %d %s", code, body)
	}
	if code, body := get(t, base+"/api/v1/status", "reader"); code != 404 {
		t.Errorf("/api/v1/status without a daemon: %d %s", code, body)
	}
	// The web UI: its files need no token, its data does.
	for _, tc := range []struct{ path, holds string }{
		{"/", `<script type="module" src="/ui/app.js">`},
		{"/ui/app.js", "import"},
		{"/ui/style.css", "table.data"},
	} {
		if code, body := get(t, base+tc.path, ""); code != 200 || !strings.Contains(body, tc.holds) {
			t.Errorf("%s without a token: %d %.200s", tc.path, code, body)
		}
	}
	if code, body := get(t, base+"/api/v1/live", "reader"); code != 404 {
		t.Errorf("/api/v1/live without a daemon: %d %s", code, body)
	}
}

// TestHTTPStopEndsStreams: stopping the server ends the live streams at
// once rather than waiting out the shutdown's grace period for them.
func TestHTTPStopEndsStreams(t *testing.T) {
	st, err := store.Open(context.Background(), testDB(t, "S01"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	o := api.Options{Store: st, Live: func() []*callgraph.Call { return nil }}
	addr, stop, err := startHTTP(o, "127.0.0.1:0", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr.String() + "/api/v1/live")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("no snapshot: %v", err)
		}
		if strings.HasPrefix(line, "event: snapshot") {
			break
		}
	}
	began := time.Now()
	stop()
	if d := time.Since(began); d > 2*time.Second {
		t.Errorf("stop took %v with a live stream open", d)
	}
	if _, err := io.ReadAll(br); err != nil {
		t.Errorf("the stream did not end cleanly: %v", err)
	}
}

func TestWebRefuses(t *testing.T) {
	t.Setenv("CALLTRAIL_TOKEN", "")
	t.Setenv("CALLTRAIL_ADMIN_TOKEN", "")
	db := testDB(t, "S06")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"web", "--db", db, "--listen", "0.0.0.0:0"}, "needs a token"},
		{[]string{"web", "--db", db, "--listen", ":0"}, "needs a token"},
		{[]string{"web", "--db", db, "--token-file", filepath.Join(t.TempDir(), "none")}, "--token-file"},
		{[]string{"web", "--db", "sqlite:" + filepath.Join(t.TempDir(), "none.db")}, "does not exist"},
		{[]string{"serve", "--ami", "127.0.0.1:1", "--user", "u", "--secret", "s", "--db", "sqlite:" + filepath.Join(t.TempDir(), "s.db"), "--agi", "off", "--no-journal", "--http", "0.0.0.0:0"}, "needs a token"},
	} {
		_, _, err := calltrail(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("calltrail %s: %v, want an error with %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}
}

// TestServeAPI runs "calltrail serve --http" against "calltrail sim" and
// waits until /readyz sees the Asterisk connected.
func TestServeAPI(t *testing.T) {
	t.Setenv("CALLTRAIL_TOKEN", "reader")
	t.Setenv("CALLTRAIL_ADMIN_TOKEN", "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var simErr syncBuffer
	simDone := make(chan error, 1)
	go func() {
		// At twice the recorded pace the call is up for about 4 s: long
		// enough to be seen live.
		simDone <- run(ctx, []string{"sim", "--listen", "127.0.0.1:0", "--user", "lab", "--secret", "labpass", "--speed", "2",
			"../../testdata/asterisk20/S01/ami.log"}, io.Discard, &simErr)
	}()
	defer func() { cancel(); <-simDone }()
	simRE := regexp.MustCompile(`on (127\.0\.0\.1:\d+)`)
	var amiAddr string
	for deadline := time.Now().Add(10 * time.Second); amiAddr == ""; {
		if m := simRE.FindStringSubmatch(simErr.String()); m != nil {
			amiAddr = m[1]
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sim announced no address:\n%s", simErr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	dir := t.TempDir()
	base, errb := startCommand(t, "serve", "--ami", amiAddr, "--user", "lab", "--secret", "labpass",
		"--db", "sqlite:"+filepath.Join(dir, "calls.db"), "--agi", "off", "--no-journal", "--http", "127.0.0.1:0")
	for deadline := time.Now().Add(10 * time.Second); ; {
		code, _ := get(t, base+"/readyz", "")
		if code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz never 200:\n%s", errb.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	code, body := get(t, base+"/api/v1/status", "reader")
	if code != 200 || !strings.Contains(body, `"connected":true`) {
		t.Errorf("/api/v1/status: %d %s", code, body)
	}
	code, body = get(t, base+"/metrics", "reader")
	if code != 200 || !strings.Contains(body, "calltrail_ami_connected{server=\"127.0.0.1\"} 1") {
		t.Errorf("/metrics: %d %.2000s", code, body)
	}

	// The live view follows the call in progress.
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/v1/live", nil)
	req.Header.Set("Authorization", "Bearer reader")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("/api/v1/live: %d %s", resp.StatusCode, ct)
	}
	lines := bufio.NewScanner(resp.Body)
	lines.Buffer(nil, 1<<20)
	seen := false
	for deadline := time.Now().Add(15 * time.Second); !seen && time.Now().Before(deadline) && lines.Scan(); {
		if l := lines.Text(); strings.HasPrefix(l, "data:") && strings.Contains(l, `"SIP/1002-`) && strings.Contains(l, `"complete":false`) {
			seen = true
		}
	}
	if !seen {
		t.Errorf("the live view never showed the call in progress")
	}
}

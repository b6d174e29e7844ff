package web

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/calltrail/calltrail/internal/api"
)

const readToken = "read-secret"

// newHandler is the UI in front of the real API, over the calls of a
// blind transfer, with a read token.
func newHandler(t *testing.T) http.Handler {
	t.Helper()
	a, err := api.New(api.Options{Store: testStore(t, replay(t, "asterisk20/S05")), ReadToken: readToken})
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(a)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

type answer struct {
	status int
	header http.Header
	body   string
}

func do(h http.Handler, method, target string, header http.Header) answer {
	req := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return answer{rec.Code, rec.Header(), rec.Body.String()}
}

// TestFiles: the page and its files need no token, come with their
// content type, a validator and the security headers.
func TestFiles(t *testing.T) {
	h := newHandler(t)
	for _, tc := range []struct {
		target, contentType, holds string
	}{
		{"/", "text/html; charset=utf-8", `<script type="module" src="/ui/app.js">`},
		{"/ui/", "text/html; charset=utf-8", `<main id="main">`},
		{"/ui/index.html", "text/html; charset=utf-8", `<main id="main">`},
		{"/ui/app.js", "text/javascript; charset=utf-8", "import"},
		{"/ui/live.js", "text/javascript; charset=utf-8", "/api/v1/live"},
		{"/ui/style.css", "text/css; charset=utf-8", "table.data"},
		{"/ui/favicon.svg", "image/svg+xml", "<svg"},
	} {
		t.Run(tc.target, func(t *testing.T) {
			r := do(h, "GET", tc.target, nil)
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			for name, want := range map[string]string{
				"Content-Type":           tc.contentType,
				"Cache-Control":          "no-cache",
				"X-Content-Type-Options": "nosniff",
				"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; " +
					"img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
			} {
				if got := r.header.Get(name); got != want {
					t.Errorf("%s %q, want %q", name, got, want)
				}
			}
			if !strings.Contains(r.body, tc.holds) {
				t.Errorf("body lacks %q", tc.holds)
			}
			etag := r.header.Get("ETag")
			if !regexp.MustCompile(`^"[0-9a-f]{24}"$`).MatchString(etag) {
				t.Fatalf("ETag %q", etag)
			}
			again := do(h, "GET", tc.target, http.Header{"If-None-Match": {etag}})
			if again.status != http.StatusNotModified || again.body != "" {
				t.Errorf("with If-None-Match: status %d, %d bytes; want 304 and none", again.status, len(again.body))
			}
			head := do(h, "HEAD", tc.target, nil)
			if head.status != 200 || head.body != "" || head.header.Get("Content-Type") != tc.contentType {
				t.Errorf("HEAD: status %d, %d bytes, %q", head.status, len(head.body), head.header.Get("Content-Type"))
			}
		})
	}
}

// TestRoutes: the API keeps its paths, its tokens and its JSON errors;
// the UI's paths answer in JSON too.
func TestRoutes(t *testing.T) {
	h := newHandler(t)
	auth := http.Header{"Authorization": {"Bearer " + readToken}}
	for _, tc := range []struct {
		method, target string
		header         http.Header
		status         int
		contentType    string
	}{
		{"GET", "/api/v1/calls", nil, 401, "application/json"},
		{"GET", "/api/v1/calls", auth, 200, "application/json"},
		{"GET", "/api/v1/causes", auth, 200, "application/json"},
		{"GET", "/api/v1/nothing", auth, 404, "application/json"},
		{"GET", "/api/v1/live", auth, 404, "application/json"}, // no daemon
		{"GET", "/metrics", nil, 401, "application/json"},
		{"GET", "/healthz", nil, 200, "application/json"},
		{"GET", "/nothing", nil, 404, "application/json"},
		{"GET", "/ui/nothing.js", nil, 404, "application/json"},
		{"GET", "/ui/../api/v1/calls", nil, 404, "application/json"},
		{"POST", "/", nil, 405, "application/json"},
		{"DELETE", "/ui/app.js", nil, 405, "application/json"},
	} {
		r := do(h, tc.method, tc.target, tc.header)
		if r.status != tc.status || r.header.Get("Content-Type") != tc.contentType {
			t.Errorf("%s %s: %d %q, want %d %q (%s)", tc.method, tc.target, r.status, r.header.Get("Content-Type"), tc.status, tc.contentType, r.body)
		}
		if r.status >= 400 {
			var e struct{ Error string }
			if err := json.Unmarshal([]byte(r.body), &e); err != nil || e.Error == "" {
				t.Errorf("%s %s: error body %q", tc.method, tc.target, r.body)
			}
		}
		if r.status == 405 && r.header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s %s: Allow %q", tc.method, tc.target, r.header.Get("Allow"))
		}
	}
}

var (
	importRE = regexp.MustCompile(`(?m)^import .* from '\./([a-z]+\.js)';$`)
	srcRE    = regexp.MustCompile(`(?:src|href)="/ui/([^"]+)"`)
	urlRE    = regexp.MustCompile(`\b(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}[^\s'"]*`)
)

// TestFilesHangTogether: every module the pages import and every file
// the page names is served, nothing is fetched from another host, and
// every file is used.
func TestFilesHangTogether(t *testing.T) {
	h := newHandler(t)
	used := map[string]bool{"index.html": true}
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(static, p)
		if err != nil {
			return err
		}
		var refs [][]string
		refs = append(refs, importRE.FindAllStringSubmatch(string(b), -1)...)
		refs = append(refs, srcRE.FindAllStringSubmatch(string(b), -1)...)
		for _, m := range refs {
			used[m[1]] = true
			if r := do(h, "GET", Prefix+m[1], nil); r.status != 200 {
				t.Errorf("%s names %s, which answers %d", p, m[1], r.status)
			}
		}
		for _, u := range urlRE.FindAllString(string(b), -1) {
			if u != "http://www.w3.org/2000/svg" {
				t.Errorf("%s refers to another host: %s", p, u)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	files, err := fs.Glob(static, "static/*")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !used[path.Base(f)] {
			t.Errorf("%s is served but nothing uses it", f)
		}
	}
}

func TestLoadRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		fsys fstest.MapFS
		want string
	}{
		{"unknown type", fstest.MapFS{"static/index.html": {}, "static/logo.png": {}}, `no content type for ".png"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(tc.fsys, "static")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("load: %v, want an error with %q", err, tc.want)
			}
		})
	}
	if _, err := New(nil); err == nil {
		t.Error("New(nil) gives a handler")
	}
}

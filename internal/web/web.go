// Package web is calltrail's web UI: a few pages of plain HTML, CSS and
// JavaScript modules, embedded in the binary, that read the JSON API of
// package api in the browser — the call list with its filters and
// paging, a call's flow diagram, timeline and legs, the queue and cause
// reports with charts, and the calls in progress.
//
// New puts the UI in front of the API's handler: / and /ui/… are the
// UI's files, every other path goes to the API. The files hold no data,
// so they need no token; the pages ask for one when the API answers 401
// and keep it in the tab's sessionStorage. Nothing is loaded from other
// hosts.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed static
var static embed.FS

// Prefix is where the UI's files are served; the page itself is at /.
const Prefix = "/ui/"

// contentTypes are the types of the files the UI is made of; a file of
// another kind is refused by New.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
}

// securityPolicy lets the page load only its own files and talk only to
// its own server; no inline script or style runs, even one that a call's
// data smuggled into a diagram.
const securityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// A file is one of the UI's files, ready to serve.
type file struct {
	name, contentType, etag string
	body                    []byte
}

type handler struct {
	api   http.Handler
	files map[string]*file // by name under static/
}

// New returns the handler of the UI and, behind it, api.
func New(api http.Handler) (http.Handler, error) {
	if api == nil {
		return nil, fmt.Errorf("web: no API handler")
	}
	files, err := load(static, "static")
	if err != nil {
		return nil, err
	}
	if files["index.html"] == nil {
		return nil, fmt.Errorf("web: no index.html")
	}
	return &handler{api: api, files: files}, nil
}

// load reads every file under dir of fsys.
func load(fsys fs.FS, dir string) (map[string]*file, error) {
	files := make(map[string]*file)
	err := fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ct, ok := contentTypes[path.Ext(p)]
		if !ok {
			return fmt.Errorf("web: %s: no content type for %q files", p, path.Ext(p))
		}
		body, err := fs.ReadFile(fsys, p)
		if err != nil {
			return fmt.Errorf("web: %w", err)
		}
		sum := sha256.Sum256(body)
		name := strings.TrimPrefix(p, dir+"/")
		files[name] = &file{name: name, contentType: ct, etag: `"` + hex.EncodeToString(sum[:12]) + `"`, body: body}
		return nil
	})
	return files, err
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if p != "/" && !strings.HasPrefix(p, Prefix) {
		h.api.ServeHTTP(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed")
		return
	}
	name := strings.TrimPrefix(p, Prefix)
	if p == "/" || name == "" {
		name = "index.html"
	}
	f := h.files[name]
	if f == nil {
		writeError(w, http.StatusNotFound, "no such file: "+p)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", f.contentType)
	hd.Set("ETag", f.etag)
	// Revalidate every time: a new binary serves new files under the
	// same names, and a 304 costs next to nothing.
	hd.Set("Cache-Control", "no-cache")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Content-Security-Policy", securityPolicy)
	http.ServeContent(w, r, f.name, time.Time{}, bytes.NewReader(f.body))
}

// writeError answers as the API does: {"error": msg}.
func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

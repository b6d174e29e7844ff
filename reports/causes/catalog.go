package causes

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// An Explanation tells an operator what a cause or SIP status means and
// what to check.
type Explanation struct {
	Meaning string `json:"meaning"`
	Check   string `json:"check"`
}

// A Kind says which numbering a code belongs to.
type Kind string

// Kinds of codes.
const (
	Q850 Kind = "q850"
	SIP  Kind = "sip"
)

// A Catalog holds the explanations of one language. The files live in
// catalog/<lang>.json; to translate, copy en.json, translate the
// "meaning" and "check" strings and keep the keys.
type Catalog struct {
	Language string                 `json:"language"`
	Name     string                 `json:"name"`
	Q850     map[string]Explanation `json:"q850"`
	SIP      map[string]Explanation `json:"sip"`
}

// DefaultLanguage is the language used when the one asked for has no
// explanation of a code.
const DefaultLanguage = "en"

//go:embed catalog/*.json
var catalogFS embed.FS

var loadCatalogs = sync.OnceValues(func() (map[string]*Catalog, error) {
	return ReadCatalogs(catalogFS, "catalog")
})

// ReadCatalogs reads every <lang>.json file in dir of fsys.
func ReadCatalogs(fsys fs.FS, dir string) (map[string]*Catalog, error) {
	names, err := fs.Glob(fsys, path.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	out := make(map[string]*Catalog)
	for _, name := range names {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		c := new(Catalog)
		if err := json.Unmarshal(b, c); err != nil {
			return nil, fmt.Errorf("causes: catalog %s: %w", name, err)
		}
		lang := strings.TrimSuffix(path.Base(name), ".json")
		if c.Language != lang {
			return nil, fmt.Errorf("causes: catalog %s says language %q", name, c.Language)
		}
		out[lang] = c
	}
	return out, nil
}

// Languages lists the languages of the embedded catalogue, sorted.
func Languages() []string {
	cats, err := loadCatalogs()
	if err != nil {
		return nil
	}
	var out []string
	for l := range cats {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

// Explain returns the explanation of a Q.850 cause or SIP status in lang,
// falling back to DefaultLanguage; ok is false when neither has one.
func Explain(lang string, kind Kind, code int) (e Explanation, ok bool) {
	cats, err := loadCatalogs()
	if err != nil {
		return Explanation{}, false
	}
	for _, l := range []string{lang, DefaultLanguage} {
		if c := cats[l]; c != nil {
			if e, ok := c.lookup(kind, code); ok {
				return e, true
			}
		}
	}
	return Explanation{}, false
}

func (c *Catalog) lookup(kind Kind, code int) (Explanation, bool) {
	var m map[string]Explanation
	switch kind {
	case Q850:
		m = c.Q850
	case SIP:
		m = c.SIP
	}
	e, ok := m[strconv.Itoa(code)]
	return e, ok
}

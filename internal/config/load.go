package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// An Error is a problem at one place of a configuration file.
type Error struct {
	File string
	Line int    // 0 when the problem has no line
	Path string // the key, as "ami[0].addr"; "" for the file as a whole
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":")
		b.WriteString(strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Environment variables Load reads.
const (
	EnvDB        = "CALLTRAIL_DB"
	EnvAMISecret = "CALLTRAIL_AMI_SECRET"
)

// maxSecretFile bounds what is read of a secret_file.
const maxSecretFile = 4096

// Load reads the configuration file at path; see Parse.
func Load(path string, getenv func(string) string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, data, getenv)
}

// Parse reads a configuration from data, named name in errors: the
// defaults, then the file, then the environment (getenv; nil reads none),
// then the secret files, named relative to name's directory. Every key
// of the file must be known. The result is valid; the error lists every
// problem found, each as an *Error naming the file, line and key.
func Parse(name string, data []byte, getenv func(string) string) (*Config, error) {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	cfg := DefaultConfig()
	d := &decoder{file: name, lines: make(map[string]int)}

	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	switch err := dec.Decode(&root); {
	case err == io.EOF: // an empty file: all defaults
	case err != nil:
		return nil, d.yamlError(err)
	default:
		var next yaml.Node
		if err := dec.Decode(&next); err != io.EOF {
			line := next.Line
			if err != nil {
				return nil, d.yamlError(err)
			}
			return nil, &Error{File: name, Line: line, Msg: "more than one YAML document"}
		}
		if len(root.Content) == 1 {
			d.walk(root.Content[0], reflect.ValueOf(&cfg).Elem(), "")
		}
	}
	if len(d.errs) > 0 {
		return nil, errors.Join(d.errs...)
	}

	if cfg.AGI.Listen == "off" {
		cfg.AGI.Listen = ""
	}
	if v := getenv(EnvDB); v != "" {
		cfg.DB = v
	}
	for i := range cfg.AMI {
		a := &cfg.AMI[i]
		p := fmt.Sprintf("ami[%d]", i)
		if a.ID == "" && len(cfg.AMI) == 1 {
			if host, _, err := net.SplitHostPort(a.Addr); err == nil {
				a.ID = host
			}
		}
		if a.Secret != "" && a.SecretFile != "" {
			d.errs = append(d.errs, d.at(p+".secret_file", "set together with secret: keep one"))
			continue
		}
		switch {
		case a.ID != "" && getenv(secretEnv(a.ID)) != "":
			a.Secret = getenv(secretEnv(a.ID))
		case getenv(EnvAMISecret) != "":
			a.Secret = getenv(EnvAMISecret)
		case a.SecretFile != "":
			s, err := readSecret(filepath.Dir(name), a.SecretFile)
			if err != nil {
				d.errs = append(d.errs, d.at(p+".secret_file", err.Error()))
				continue
			}
			a.Secret = s
		}
	}
	if len(d.errs) > 0 {
		return nil, errors.Join(d.errs...)
	}

	if err := cfg.Validate(); err != nil {
		var errs []error
		for _, e := range unjoin(err) {
			var fe *FieldError
			if errors.As(e, &fe) {
				errs = append(errs, d.at(fe.Path, fe.Msg))
			} else {
				errs = append(errs, &Error{File: name, Msg: e.Error()})
			}
		}
		return nil, errors.Join(errs...)
	}
	return &cfg, nil
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// readSecret reads a secret file: one line, its line end dropped.
func readSecret(dir, name string) (string, error) {
	if !filepath.IsAbs(name) {
		name = filepath.Join(dir, name)
	}
	// Look before opening: opening a FIFO would block.
	fi, err := os.Stat(name)
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%s: not a regular file", name)
	}
	f, err := os.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return "", err
	}
	if len(b) > maxSecretFile {
		return "", fmt.Errorf("%s: longer than %d bytes", name, maxSecretFile)
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		return "", fmt.Errorf("%s: empty", name)
	}
	return s, nil
}

// decoder walks a YAML tree into a Config, remembering the line of every
// key so that later errors can point at it.
type decoder struct {
	file  string
	lines map[string]int
	errs  []error
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlError turns yaml's "yaml: line 3: …" into "name:3: …".
func (d *decoder) yamlError(err error) error {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		return &Error{File: d.file, Line: n, Msg: m[2]}
	}
	return &Error{File: d.file, Msg: strings.TrimPrefix(msg, "yaml: ")}
}

// at makes an error for path, at the line of path or of the nearest key
// above it.
func (d *decoder) at(path, msg string) *Error {
	for p := path; p != ""; p = parent(p) {
		if line, ok := d.lines[p]; ok {
			return &Error{File: d.file, Line: line, Path: path, Msg: msg}
		}
	}
	return &Error{File: d.file, Path: path, Msg: msg}
}

func parent(p string) string {
	if i := strings.LastIndexAny(p, ".["); i >= 0 {
		return p[:i]
	}
	return ""
}

func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.file, Line: n.Line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

func (d *decoder) walk(n *yaml.Node, v reflect.Value, path string) {
	if path != "" {
		d.lines[path] = n.Line
	}
	if n.Kind == yaml.AliasNode {
		d.fail(n, path, "YAML aliases are not supported here")
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		if isNull(n) {
			return // "agi:" with nothing under it: keep the defaults
		}
		if n.Kind != yaml.MappingNode {
			d.fail(n, path, "want a mapping of %s", strings.Join(keys(v.Type()), ", "))
			return
		}
		seen := make(map[string]int)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			kp := join(path, k.Value)
			if k.Kind != yaml.ScalarNode {
				d.fail(k, path, "keys must be plain names")
				continue
			}
			if line, dup := seen[k.Value]; dup {
				d.fail(k, kp, "set twice (first on line %d)", line)
				continue
			}
			seen[k.Value] = k.Line
			f, ok := field(v, k.Value)
			if !ok {
				d.fail(k, kp, "unknown key (want %s)", strings.Join(keys(v.Type()), ", "))
				continue
			}
			d.walk(val, f, kp)
		}
	case reflect.Slice:
		if isNull(n) {
			v.SetZero()
			return
		}
		if n.Kind != yaml.SequenceNode {
			d.fail(n, path, "want a list")
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, e := range n.Content {
			d.walk(e, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case reflect.String:
		switch {
		case isNull(n):
			v.SetString("")
		case n.Kind != yaml.ScalarNode:
			d.fail(n, path, "want a string")
		default:
			v.SetString(n.Value)
		}
	case reflect.Bool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.Decode(&b) != nil {
			d.fail(n, path, "want true or false")
			return
		}
		v.SetBool(b)
	case reflect.Int:
		var i int
		if n.Kind != yaml.ScalarNode || n.Decode(&i) != nil {
			d.fail(n, path, "want a whole number")
			return
		}
		v.SetInt(int64(i))
	default:
		d.fail(n, path, "cannot hold a %s", v.Kind())
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// field finds the struct field whose yaml tag is key.
func field(v reflect.Value, key string) (reflect.Value, bool) {
	t := v.Type()
	for i := range t.NumField() {
		if t.Field(i).Tag.Get("yaml") == key {
			return v.Field(i), true
		}
	}
	return reflect.Value{}, false
}

func keys(t reflect.Type) []string {
	var ks []string
	for i := range t.NumField() {
		if k := t.Field(i).Tag.Get("yaml"); k != "" {
			ks = append(ks, k)
		}
	}
	return ks
}

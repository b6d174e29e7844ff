package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func env(kv ...string) func(string) string {
	m := make(map[string]string)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig()
	err := c.Validate()
	if err == nil || err.Error() != "ami: no Asterisk server: want at least one {id, addr, user, secret}, or nats.servers" {
		t.Fatalf("DefaultConfig().Validate() = %v, want only the missing server", err)
	}
	c.AMI = []AMI{{ID: "pbx1", Addr: "127.0.0.1:5038", User: "u", Secret: "s"}}
	if err := c.Validate(); err != nil {
		t.Errorf("defaults plus one server: %v", err)
	}
	if c.AGI.Listen != "127.0.0.1:4573" || c.DB != "sqlite:calltrail.db" || c.Log.Level != "info" || c.Log.Format != "text" {
		t.Errorf("defaults = %+v", c)
	}
}

// TestSample loads configs/calltrail.yaml, the commented example.
func TestSample(t *testing.T) {
	c, err := Load("../../configs/calltrail.yaml", env("CALLTRAIL_AMI_PBX1_SECRET", "labpass"))
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		AMI: []AMI{{ID: "pbx1", Addr: "127.0.0.1:5038", User: "calltrail", Secret: "labpass",
			SecretFile: "/etc/calltrail/ami-secret"}},
		AGI:       AGI{Listen: "127.0.0.1:4573", Allow: []string{"127.0.0.0/8", "::1/128"}},
		DB:        "sqlite:/var/lib/calltrail/calltrail.db",
		DBWriters: 1,
		Log:       Log{Level: "info", Format: "text"},
		Journal:   "/var/lib/calltrail/journal",
		Billing: Billing{Rates: "/etc/calltrail/rates.csv", Trunks: []string{"PJSIP/carrier-*", "SIP/trunk*"},
			Legs: "trunks", DefaultAccount: "main", Attribution: "originator"},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		env  func(string) string
		want func(*Config)
	}{
		{"minimal, lone server named by its host", "ami:\n  - {addr: 'pbx.example.net:5038', user: u, secret: s}\n", nil,
			func(c *Config) {
				c.AMI = []AMI{{ID: "pbx.example.net", Addr: "pbx.example.net:5038", User: "u", Secret: "s"}}
			}},
		{"two servers, env secrets", "ami:\n- {id: a-1, addr: 'h1:5038', user: u}\n- {id: b, addr: 'h2:5039', user: u, tls: true, tls_insecure: true}\n",
			env("CALLTRAIL_AMI_A_1_SECRET", "one", "CALLTRAIL_AMI_SECRET", "all"),
			func(c *Config) {
				c.AMI = []AMI{{ID: "a-1", Addr: "h1:5038", User: "u", Secret: "one"},
					{ID: "b", Addr: "h2:5039", User: "u", Secret: "all", TLS: true, TLSInsecure: true}}
			}},
		{"env wins over the file", "ami: [{id: x, addr: 'h:1', user: u, secret: file}]\ndb: sqlite:a.db\n",
			env("CALLTRAIL_AMI_X_SECRET", "env", "CALLTRAIL_DB", "postgres://u:p@db/calls"),
			func(c *Config) {
				c.AMI = []AMI{{ID: "x", Addr: "h:1", User: "u", Secret: "env"}}
				c.DB = "postgres://u:p@db/calls"
			}},
		{"agi off, no allow list, empty sections", "ami: [{id: x, addr: '[::1]:5038', user: u, secret: s}]\nagi: {listen: '', allow: ~}\nlog:\nbilling:\n", nil,
			func(c *Config) {
				c.AMI = []AMI{{ID: "x", Addr: "[::1]:5038", User: "u", Secret: "s"}}
				c.AGI = AGI{}
			}},
		{"agi off", "ami: [{id: x, addr: 'h:1', user: u, secret: s}]\nagi: {listen: off}\n", nil,
			func(c *Config) {
				c.AMI = []AMI{{ID: "x", Addr: "h:1", User: "u", Secret: "s"}}
				c.AGI.Listen = ""
			}},
		{"two database writers", "ami: [{id: x, addr: 'h:1', user: u, secret: s}]\ndb: postgres://u@db/calls\ndb_writers: 2\n", nil,
			func(c *Config) {
				c.AMI = []AMI{{ID: "x", Addr: "h:1", User: "u", Secret: "s"}}
				c.DB, c.DBWriters = "postgres://u@db/calls", 2
			}},
		{"engine of collectors", "nats:\n  url: nats://10.0.0.5:4222\n  servers: [pbx1, pbx-2]\n", nil,
			func(c *Config) {
				c.NATS = NATS{URL: "nats://10.0.0.5:4222", Servers: []string{"pbx1", "pbx-2"}}
			}},
		{"numbers and booleans as strings", "ami: [{id: 7, addr: 'h:5038', user: 100, secret: 1234, tls: false}]\nbilling: {default_account: 42, legs: all, attribution: segments}\n", nil,
			func(c *Config) {
				c.AMI = []AMI{{ID: "7", Addr: "h:5038", User: "100", Secret: "1234"}}
				c.Billing.DefaultAccount, c.Billing.Legs, c.Billing.Attribution = "42", "all", "segments"
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse("calltrail.yaml", []byte(tt.yaml), tt.env)
			if err != nil {
				t.Fatal(err)
			}
			want := DefaultConfig()
			tt.want(&want)
			if !reflect.DeepEqual(got, &want) {
				t.Errorf("got  %+v\nwant %+v", got, &want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	const ok = "ami:\n  - id: pbx1\n    addr: 127.0.0.1:5038\n    user: u\n    secret: s\n"
	tests := []struct {
		name string
		yaml string
		want string // the whole error text
	}{
		{"empty file", "", "calltrail.yaml: ami: no Asterisk server: want at least one {id, addr, user, secret}, or nats.servers"},
		{"nats without url, bad ids", "nats:\n  servers: [pbx.1, b, b]\n",
			"calltrail.yaml:2: nats.url: missing: want nats://host:4222\n" +
				"calltrail.yaml:2: nats.servers[0]: \"pbx.1\": want letters, digits, '_' or '-' (it is a NATS subject token)\n" +
				"calltrail.yaml:2: nats.servers[2]: \"b\" listed twice"},
		{"nats url scheme, id also ami", ok + "nats: {url: 'http://h:4222', servers: [pbx1]}\n",
			"calltrail.yaml:6: nats.url: \"http://h:4222\": want nats://host:4222 or tls://host:4222\n" +
				"calltrail.yaml:6: nats.servers[0]: \"pbx1\" is also an ami server"},
		{"nats prefix", "nats: {url: 'nats://h:4222', servers: [a], subject_prefix: calltrail.ami}\n",
			"calltrail.yaml:1: nats.subject_prefix: \"calltrail.ami\": want subject tokens ending in '.', e.g. calltrail.ami."},
		{"nats url alone", "nats: {url: 'nats://h:4222'}\n",
			"calltrail.yaml: ami: no Asterisk server: want at least one {id, addr, user, secret}, or nats.servers\n" +
				"calltrail.yaml:1: nats.servers: empty: name the servers whose collectors publish to this engine"},
		{"missing port", "ami:\n  - id: pbx1\n    addr: 127.0.0.1\n    user: u\n    secret: s\n",
			"calltrail.yaml:3: ami[0].addr: missing port"},
		{"bad port", "ami:\n  - id: pbx1\n    addr: h:99999\n    user: u\n    secret: s\n",
			`calltrail.yaml:3: ami[0].addr: port "99999": want 1 to 65535`},
		{"unknown key", ok + "    secrte: x\n",
			"calltrail.yaml:6: ami[0].secrte: unknown key (want id, addr, user, secret, secret_file, tls, tls_insecure)"},
		{"unknown top-level key", ok + "database: x\n",
			"calltrail.yaml:6: database: unknown key (want ami, nats, agi, db, db_writers, log, journal, billing)"},
		{"key twice", ok + "db: sqlite:a.db\ndb: sqlite:b.db\n", "calltrail.yaml:7: db: set twice (first on line 6)"},
		{"missing secret, user, id", "ami:\n  - addr: h1:5038\n  - addr: h2:5038\n",
			"calltrail.yaml:2: ami[0].id: missing: name the server (calls carry it as their server)\n" +
				"calltrail.yaml:2: ami[0].user: missing\n" +
				"calltrail.yaml:2: ami[0].secret: missing: set secret, secret_file or CALLTRAIL_AMI_SECRET\n" +
				"calltrail.yaml:3: ami[1].id: missing: name the server (calls carry it as their server)\n" +
				"calltrail.yaml:3: ami[1].user: missing\n" +
				"calltrail.yaml:3: ami[1].secret: missing: set secret, secret_file or CALLTRAIL_AMI_SECRET"},
		{"missing secret names the env", "ami: [{id: pbx-2, addr: 'h:1', user: u}]\n",
			"calltrail.yaml:1: ami[0].secret: missing: set secret, secret_file or CALLTRAIL_AMI_PBX_2_SECRET"},
		{"duplicate id", "ami:\n- {id: a, addr: 'h:1', user: u, secret: s}\n- {id: a, addr: 'h:2', user: u, secret: s}\n",
			`calltrail.yaml:3: ami[1].id: "a" already names ami[0]`},
		{"bad id", "ami: [{id: 'pbx 1', addr: 'h:1', user: u, secret: s}]\n",
			`calltrail.yaml:1: ami[0].id: "pbx 1": want letters, digits, '.', '_' or '-'`},
		{"secret and secret_file", "ami: [{id: a, addr: 'h:1', user: u, secret: s, secret_file: f}]\n",
			"calltrail.yaml:1: ami[0].secret_file: set together with secret: keep one"},
		{"tls_insecure alone", ok + "    tls_insecure: true\n", "calltrail.yaml:6: ami[0].tls_insecure: set without tls: true"},
		{"tls not a bool", ok + "    tls: maybe\n", "calltrail.yaml:6: ami[0].tls: want true or false"},
		{"ami not a list", "ami: pbx1\n", "calltrail.yaml:1: ami: want a list"},
		{"server not a mapping", "ami: [pbx1]\n", "calltrail.yaml:1: ami[0]: want a mapping of id, addr, user, secret, secret_file, tls, tls_insecure"},
		{"string wanted", ok + "db: [a, b]\n", "calltrail.yaml:6: db: want a string"},
		{"bad agi listen", ok + "agi:\n  listen: 4573\n", "calltrail.yaml:7: agi.listen: missing port"},
		{"bad cidr", ok + "agi:\n  allow: [10.0.0.0/33, 192.168.1.7, nonsense]\n",
			"calltrail.yaml:7: agi.allow[0]: \"10.0.0.0/33\": want a CIDR such as 10.0.0.0/8 or an address\n" +
				"calltrail.yaml:7: agi.allow[2]: \"nonsense\": want a CIDR such as 10.0.0.0/8 or an address"},
		{"bad db scheme", ok + "db: calls.db\n",
			"calltrail.yaml:6: db: DSN has no scheme: want sqlite:FILE, postgres://… or mysql://…"},
		{"bad db, password kept out", ok + "db: mysql://u:s3cret@tcp(db:3306)/\n",
			"calltrail.yaml:6: db: mysql DSN: missing database name (mysql://user:pass@tcp(host:3306)/DB)"},
		{"db writers", ok + "db_writers: 0\n", "calltrail.yaml:6: db_writers: 0: want 1 to 16"},
		{"db writers not a number", ok + "db_writers: two\n", "calltrail.yaml:6: db_writers: want a whole number"},
		{"empty db", ok + "db: ''\n", "calltrail.yaml:6: db: empty: want sqlite:FILE, postgres://… or mysql://…"},
		{"log", ok + "log: {level: verbose, format: xml}\n",
			"calltrail.yaml:6: log.level: \"verbose\": want debug, info, warn or error\n" +
				"calltrail.yaml:6: log.format: \"xml\": want text or json"},
		{"billing", ok + "billing:\n  trunks: ['PJSIP/[carrier']\n  legs: some\n  attribution: caller\n",
			"calltrail.yaml:7: billing.trunks[0]: \"PJSIP/[carrier\": not a pattern (want e.g. PJSIP/carrier-*)\n" +
				"calltrail.yaml:8: billing.legs: \"some\": want trunks or all\n" +
				"calltrail.yaml:9: billing.attribution: \"caller\": want originator or segments"},
		{"syntax", "db: x\nlog: b\n c: d\n", "calltrail.yaml:3: mapping values are not allowed in this context"},
		{"syntax without a line", "db: x: y\n", "calltrail.yaml: mapping values are not allowed in this context"},
		{"unterminated", "db: 'x\n", "calltrail.yaml:2: found unexpected end of stream"},
		{"tab", "ami:\n\t- id: a\n", "calltrail.yaml:2: found character that cannot start any token"},
		{"two documents", ok + "---\ndb: x\n", "calltrail.yaml:6: more than one YAML document"},
		{"alias", "x: &a {id: a}\n", "calltrail.yaml:1: x: unknown key (want ami, nats, agi, db, db_writers, log, journal, billing)"},
		{"alias used", "ami:\n- &s {id: a, addr: 'h:1', user: u, secret: s}\n- *s\n", "calltrail.yaml:3: ami[1]: YAML aliases are not supported here"},
		{"complex key", "? [a]\n: b\n", "calltrail.yaml:1: keys must be plain names"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("calltrail.yaml", []byte(tt.yaml), nil)
			if err == nil {
				t.Fatalf("no error; config %+v", c)
			}
			if err.Error() != tt.want {
				t.Errorf("error:\n%s\nwant:\n%s", err, tt.want)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error shows a password")
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Errorf("error %T is not a *config.Error", err)
			}
		})
	}
}

func TestSecretFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("secret", "labpass\n")
	write("empty", "\n")
	write("big", strings.Repeat("x", maxSecretFile+1))
	cfgPath := filepath.Join(dir, "calltrail.yaml")
	tests := []struct {
		file    string
		env     func(string) string
		want    string
		wantErr string
	}{
		{"secret", nil, "labpass", ""},
		{filepath.Join(dir, "secret"), nil, "labpass", ""},
		{"secret", env("CALLTRAIL_AMI_SECRET", "fromenv"), "fromenv", ""},
		{"missing", nil, "", "ami[0].secret_file: stat " + filepath.Join(dir, "missing") + ": no such file or directory"},
		{"empty", nil, "", "ami[0].secret_file: " + filepath.Join(dir, "empty") + ": empty"},
		{"big", nil, "", "ami[0].secret_file: " + filepath.Join(dir, "big") + ": longer than 4096 bytes"},
		{".", nil, "", "ami[0].secret_file: " + dir + ": not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			yaml := "ami:\n  - id: pbx1\n    addr: h:5038\n    user: u\n    secret_file: " + tt.file + "\n"
			c, err := Parse(cfgPath, []byte(yaml), tt.env)
			if tt.wantErr != "" {
				if want := cfgPath + ":5: " + tt.wantErr; err == nil || err.Error() != want {
					t.Fatalf("err = %v, want %s", err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.AMI[0].Secret != tt.want {
				t.Errorf("secret = %q, want %q", c.AMI[0].Secret, tt.want)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load("/no/such/calltrail.yaml", nil)
	if err == nil || err.Error() != "config: open /no/such/calltrail.yaml: no such file or directory" {
		t.Errorf("err = %v", err)
	}
}

func TestAllowedNets(t *testing.T) {
	nets, err := AGI{Allow: []string{"10.1.2.3/8", "192.168.1.7", "::1"}}.AllowedNets()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range nets {
		got = append(got, n.String())
	}
	if want := "10.0.0.0/8 192.168.1.7/32 ::1/128"; strings.Join(got, " ") != want {
		t.Errorf("nets = %v, want %s", got, want)
	}
}

// FuzzParse checks that the loader never panics, that what it accepts is
// valid, and that every error names the file.
func FuzzParse(f *testing.F) {
	if sample, err := os.ReadFile("../../configs/calltrail.yaml"); err == nil {
		f.Add(string(sample))
	}
	f.Add("ami: [{id: a, addr: 'h:1', user: u, secret: s}]\n")
	f.Add("ami:\n  - id: pbx1\n    addr: 127.0.0.1\n")
	f.Add("agi: {listen: ':4573', allow: [10.0.0.0/8]}\nlog: {level: debug, format: json}\n")
	f.Add("ami:\n- &s {id: a}\n- *s\n")
	f.Add("billing: {trunks: ['[']}\n---\nx: 1\n")
	f.Add("? [a]\n: b\n")
	f.Fuzz(func(t *testing.T, data string) {
		c, err := Parse("fuzz.yaml", []byte(data), env("CALLTRAIL_AMI_SECRET", "x"))
		if err != nil {
			for _, e := range unjoin(err) {
				if !strings.HasPrefix(e.Error(), "fuzz.yaml") {
					t.Fatalf("error without the file name: %q", e)
				}
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse accepted an invalid config: %v", err)
		}
	})
}

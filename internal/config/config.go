// Package config is the calltrail daemon's configuration: a plain struct
// with defaults and checks, read from a YAML file whose errors name the
// file, the line and the key ("calltrail.yaml:12: ami[0].addr: missing
// port"). Secrets may stay out of the file: they also come from the
// environment or from files of their own.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/calltrail/calltrail/internal/store"
)

// Config is everything the daemon reads at start.
type Config struct {
	// AMI lists the Asterisk servers to follow over AMI. With NATS, it may
	// be empty: collectors follow them.
	AMI []AMI `yaml:"ami"`
	// NATS lists the servers whose events come through NATS JetStream
	// (docs/scale.md).
	NATS NATS `yaml:"nats"`
	// AGI is the FastAGI server through which the dialplan tags calls.
	AGI AGI `yaml:"agi"`
	// DB is where calls are stored: sqlite:FILE, postgres://… or
	// mysql://… (see docs/storage.md). CALLTRAIL_DB overrides it.
	DB string `yaml:"db"`
	// DBWriters is how many transactions may write calls at once
	// (store.Writer.Parallel): 1, the default, or up to 16.
	DBWriters int `yaml:"db_writers"`
	Log       Log `yaml:"log"`
	// Journal is a directory for the raw event journal; "" keeps none.
	Journal string  `yaml:"journal"`
	Billing Billing `yaml:"billing"`
}

// AMI is one Asterisk server's manager interface.
type AMI struct {
	// ID names the server in call records (their "server" field). Load
	// defaults it to Addr's host when only one server is configured.
	ID   string `yaml:"id"`
	Addr string `yaml:"addr"` // host:port, usually port 5038 (5039 with TLS)
	User string `yaml:"user"`
	// Secret is the AMI user's password. It may come instead from
	// SecretFile (a file holding only the secret) or from the
	// environment: CALLTRAIL_AMI_<ID>_SECRET, or CALLTRAIL_AMI_SECRET
	// for every server; the environment wins over the file.
	Secret      string `yaml:"secret"`
	SecretFile  string `yaml:"secret_file"`
	TLS         bool   `yaml:"tls"`
	TLSInsecure bool   `yaml:"tls_insecure"` // accept any certificate (testing only)
}

// NATS makes calltrail the engine of servers that collectors follow
// (calltrail collect), their events carried by NATS JetStream.
type NATS struct {
	URL string `yaml:"url"` // nats://host:4222
	// Stream is the JetStream stream (CALLTRAIL_AMI when empty).
	Stream string `yaml:"stream"`
	// SubjectPrefix starts the subjects ("calltrail.ami." when empty);
	// the collectors' must be the same.
	SubjectPrefix string `yaml:"subject_prefix"`
	// Servers are the ids of the servers this engine follows; each is
	// also the id its collector was given.
	Servers []string `yaml:"servers"`
	// Consumer prefixes the durable consumer of each server ("calltrail-"
	// when empty): one engine, one prefix.
	Consumer string `yaml:"consumer"`
}

// AGI configures the FastAGI server.
type AGI struct {
	// Listen is the address to listen on; "" turns the server off (Load
	// also reads "off" so).
	Listen string `yaml:"listen"`
	// Allow lists the networks (CIDRs or single addresses) that may
	// connect.
	Allow []string `yaml:"allow"`
}

// Log configures the daemon's log.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn or error
	Format string `yaml:"format"` // text or json
}

// Billing configures rating and who pays (shared/spec/billing.md).
type Billing struct {
	// Rates is the rate plan file; "" rates nothing.
	Rates string `yaml:"rates"`
	// Trunks are the channel name patterns (path.Match syntax, e.g.
	// "PJSIP/carrier-*") of the legs that cross the billing boundary.
	Trunks []string `yaml:"trunks"`
	// Legs is which legs get a billing record: "trunks" or "all".
	Legs string `yaml:"legs"`
	// DefaultAccount pays when neither the dialplan nor the channel
	// named an account.
	DefaultAccount string `yaml:"default_account"`
	// Attribution is who pays for a transferred trunk leg: "originator"
	// or "segments".
	Attribution string `yaml:"attribution"`
}

// Defaults.
const (
	DefaultAGIListen = "127.0.0.1:4573"
	DefaultDB        = store.DefaultDSN
)

// DefaultConfig returns the configuration used for every key the file
// leaves out. It has no AMI server: that one must be given.
func DefaultConfig() Config {
	return Config{
		AGI:       AGI{Listen: DefaultAGIListen, Allow: []string{"127.0.0.0/8", "::1/128"}},
		DB:        DefaultDB,
		DBWriters: 1,
		Log:       Log{Level: "info", Format: "text"},
		Billing:   Billing{Legs: "trunks", Attribution: "originator"},
	}
}

// A FieldError is one thing wrong with one key. Path is the key's path
// in the file: "ami[0].addr".
type FieldError struct {
	Path string
	Msg  string
}

func (e *FieldError) Error() string { return e.Path + ": " + e.Msg }

var (
	validID        = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	validSubjectID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)
)

// Validate checks c. It returns every problem found, as *FieldErrors
// joined by errors.Join.
func (c *Config) Validate() error {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, &FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
	}

	if len(c.AMI) == 0 && len(c.NATS.Servers) == 0 {
		bad("ami", "no Asterisk server: want at least one {id, addr, user, secret}, or nats.servers")
	}
	ids := make(map[string]int)
	for i := range c.AMI {
		a := &c.AMI[i]
		p := fmt.Sprintf("ami[%d]", i)
		if _, err := checkHostPort(a.Addr); err != nil {
			bad(p+".addr", "%s", err)
		}
		switch {
		case a.ID == "":
			bad(p+".id", "missing: name the server (calls carry it as their server)")
		case !validID.MatchString(a.ID):
			bad(p+".id", "%q: want letters, digits, '.', '_' or '-'", a.ID)
		default:
			if j, dup := ids[a.ID]; dup {
				bad(p+".id", "%q already names ami[%d]", a.ID, j)
			} else {
				ids[a.ID] = i
			}
		}
		if a.User == "" {
			bad(p+".user", "missing")
		}
		if a.Secret == "" {
			bad(p+".secret", "missing: set secret, secret_file or %s", secretEnv(a.ID))
		}
		if strings.ContainsAny(a.User+a.Secret, "\r\n") {
			bad(p, "user and secret must be one line each")
		}
		if a.TLSInsecure && !a.TLS {
			bad(p+".tls_insecure", "set without tls: true")
		}
	}

	if len(c.NATS.Servers) > 0 || c.NATS.URL != "" {
		if c.NATS.URL == "" {
			bad("nats.url", "missing: want nats://host:4222")
		} else if u, err := url.Parse(c.NATS.URL); err != nil || u.Host == "" || (u.Scheme != "nats" && u.Scheme != "tls") {
			bad("nats.url", "%q: want nats://host:4222 or tls://host:4222", c.NATS.URL)
		}
		if len(c.NATS.Servers) == 0 {
			bad("nats.servers", "empty: name the servers whose collectors publish to this engine")
		}
		if p := c.NATS.SubjectPrefix; p != "" && (!strings.HasSuffix(p, ".") || strings.ContainsAny(p, " *>")) {
			bad("nats.subject_prefix", "%q: want subject tokens ending in '.', e.g. calltrail.ami.", p)
		}
		seen := map[string]bool{}
		for i, id := range c.NATS.Servers {
			p := fmt.Sprintf("nats.servers[%d]", i)
			switch {
			case !validSubjectID.MatchString(id):
				bad(p, "%q: want letters, digits, '_' or '-' (it is a NATS subject token)", id)
			case seen[id]:
				bad(p, "%q listed twice", id)
			default:
				if _, dup := ids[id]; dup {
					bad(p, "%q is also an ami server", id)
				}
			}
			seen[id] = true
		}
	}

	if c.AGI.Listen != "" {
		if _, err := checkHostPort(c.AGI.Listen); err != nil {
			bad("agi.listen", "%s", err)
		}
	}
	for i, s := range c.AGI.Allow {
		if _, err := parseAllow(s); err != nil {
			bad(fmt.Sprintf("agi.allow[%d]", i), "%q: want a CIDR such as 10.0.0.0/8 or an address", s)
		}
	}

	if c.DB == "" {
		bad("db", "empty: want sqlite:FILE, postgres://… or mysql://…")
	} else if err := store.CheckDSN(c.DB); err != nil {
		bad("db", "%s", strings.TrimPrefix(err.Error(), "store: "))
	}

	if c.DBWriters < 1 || c.DBWriters > 16 {
		bad("db_writers", "%d: want 1 to 16", c.DBWriters)
	}

	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "%q: want debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format", "%q: want text or json", c.Log.Format)
	}

	for i, t := range c.Billing.Trunks {
		if _, err := path.Match(t, ""); err != nil || t == "" {
			bad(fmt.Sprintf("billing.trunks[%d]", i), "%q: not a pattern (want e.g. PJSIP/carrier-*)", t)
		}
	}
	switch c.Billing.Legs {
	case "trunks", "all":
	default:
		bad("billing.legs", "%q: want trunks or all", c.Billing.Legs)
	}
	switch c.Billing.Attribution {
	case "originator", "segments":
	default:
		bad("billing.attribution", "%q: want originator or segments", c.Billing.Attribution)
	}
	return errors.Join(errs...)
}

// checkHostPort checks a host:port address and returns the host.
func checkHostPort(addr string) (string, error) {
	if addr == "" {
		return "", errors.New("missing: want host:port")
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		if strings.Contains(err.Error(), "missing port") {
			return "", errors.New("missing port")
		}
		return "", fmt.Errorf("%q: want host:port", addr)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return host, fmt.Errorf("port %q: want 1 to 65535", port)
	}
	return host, nil
}

// AllowedNets returns agi.allow as prefixes; call it on a valid Config.
func (a AGI) AllowedNets() ([]netip.Prefix, error) {
	var nets []netip.Prefix
	for _, s := range a.Allow {
		p, err := parseAllow(s)
		if err != nil {
			return nil, fmt.Errorf("config: agi.allow: %q: %w", s, err)
		}
		nets = append(nets, p)
	}
	return nets, nil
}

func parseAllow(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// secretEnv is the variable that holds the secret of the server id.
func secretEnv(id string) string {
	if id == "" {
		return "CALLTRAIL_AMI_SECRET"
	}
	var b strings.Builder
	for _, r := range strings.ToUpper(id) {
		if (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return "CALLTRAIL_AMI_" + b.String() + "_SECRET"
}

package store

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
)

// DefaultDSN is where calls go when the configuration names no database.
const DefaultDSN = "sqlite:calltrail.db"

// A dsn is a parsed data source name: which database, and the string its
// driver takes.
type dsn struct {
	dialect string // "sqlite", "postgres" or "mysql"
	driver  string // the driver's own connection string
	path    string // sqlite: the file, "" for an in-memory database
}

// parseDSN reads calltrail's DSN forms:
//
//	sqlite:calltrail.db, sqlite:/var/lib/calltrail/calls.db, sqlite::memory:
//	postgres://user:pass@host:5432/db?sslmode=disable (also postgresql://)
//	mysql://user:pass@tcp(host:3306)/db?params (also mysql://user:pass@host:3306/db)
//
// Its errors name the scheme and what is wrong, and never contain the
// password.
func parseDSN(s string) (dsn, error) {
	scheme, rest, ok := strings.Cut(s, ":")
	if !ok || scheme == "" {
		return dsn{}, errors.New("store: DSN has no scheme: want sqlite:FILE, postgres://… or mysql://…")
	}
	switch strings.ToLower(scheme) {
	case "sqlite", "sqlite3":
		return parseSQLite(rest)
	case "postgres", "postgresql":
		return parsePostgres(s)
	case "mysql", "mariadb":
		return parseMySQL(rest)
	}
	if strings.ContainsAny(scheme, "/@") || (strings.Contains(rest, "@") && !strings.HasPrefix(rest, "//")) {
		return dsn{}, errors.New("store: DSN has no scheme: want sqlite:FILE, postgres://… or mysql://…")
	}
	return dsn{}, fmt.Errorf("store: DSN scheme %q unknown: want sqlite, postgres or mysql", scheme)
}

func parseSQLite(rest string) (dsn, error) {
	rest = strings.TrimPrefix(rest, "//")
	path, query, _ := strings.Cut(rest, "?")
	if path == "" {
		return dsn{}, errors.New("store: sqlite DSN: missing file name (sqlite:calltrail.db or sqlite::memory:)")
	}
	params, err := url.ParseQuery(query)
	if err != nil {
		return dsn{}, errors.New("store: sqlite DSN: malformed options after '?'")
	}
	if params.Get("_busy_timeout") == "" {
		params.Set("_busy_timeout", "5000")
	}
	if path == ":memory:" {
		return dsn{dialect: "sqlite", driver: "file::memory:?" + params.Encode()}, nil
	}
	if params.Get("_journal_mode") == "" {
		params.Set("_journal_mode", "WAL")
	}
	return dsn{dialect: "sqlite", driver: "file:" + path + "?" + params.Encode(), path: path}, nil
}

func parsePostgres(s string) (dsn, error) {
	u, err := url.Parse(s)
	if err != nil {
		// url.Error repeats the whole DSN, password included.
		return dsn{}, errors.New("store: postgres DSN: malformed URL (are special characters in the user or password %-escaped?)")
	}
	if u.Opaque != "" {
		return dsn{}, errors.New("store: postgres DSN: want postgres://user@host:5432/db")
	}
	if _, err := pgconn.ParseConfig(s); err != nil {
		// pgconn's message redacts the password.
		return dsn{}, fmt.Errorf("store: postgres DSN: %w", err)
	}
	return dsn{dialect: "postgres", driver: s}, nil
}

func parseMySQL(rest string) (dsn, error) {
	if !strings.HasPrefix(rest, "//") {
		return dsn{}, errors.New("store: mysql DSN: want mysql://user:pass@tcp(host:3306)/db")
	}
	rest = rest[2:]
	var cfg *mysql.Config
	if i := strings.LastIndex(rest, "@"); i >= 0 && (strings.HasPrefix(rest[i+1:], "tcp(") || strings.HasPrefix(rest[i+1:], "unix(")) ||
		strings.HasPrefix(rest, "tcp(") || strings.HasPrefix(rest, "unix(") {
		c, err := mysql.ParseDSN(rest)
		if err != nil {
			// The driver's messages quote no part of the DSN.
			return dsn{}, fmt.Errorf("store: mysql DSN: %w", err)
		}
		cfg = c
	} else {
		c, err := mysqlFromURL(rest)
		if err != nil {
			return dsn{}, err
		}
		cfg = c
	}
	if cfg.DBName == "" {
		return dsn{}, errors.New("store: mysql DSN: missing database name (mysql://user:pass@tcp(host:3306)/DB)")
	}
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	return dsn{dialect: "mysql", driver: cfg.FormatDSN()}, nil
}

// mysqlFromURL reads the URL form user:pass@host:port/db?params.
func mysqlFromURL(rest string) (*mysql.Config, error) {
	u, err := url.Parse("mysql://" + rest)
	if err != nil {
		return nil, errors.New("store: mysql DSN: malformed URL (are special characters in the user or password %-escaped?)")
	}
	if u.Host == "" {
		return nil, errors.New("store: mysql DSN: missing host: want mysql://user:pass@tcp(host:3306)/db")
	}
	cfg := mysql.NewConfig()
	cfg.User = u.User.Username()
	cfg.Passwd, _ = u.User.Password()
	cfg.Net = "tcp"
	cfg.Addr = u.Host
	if u.Port() == "" {
		cfg.Addr = net.JoinHostPort(u.Hostname(), "3306")
	}
	cfg.DBName = strings.TrimPrefix(u.Path, "/")
	if q := u.RawQuery; q != "" {
		// Let the driver read the options, as in its own format.
		c, err := mysql.ParseDSN("/" + cfg.DBName + "?" + q)
		if err != nil {
			return nil, fmt.Errorf("store: mysql DSN: %w", err)
		}
		c.User, c.Passwd, c.Net, c.Addr = cfg.User, cfg.Passwd, cfg.Net, cfg.Addr
		cfg = c
	}
	return cfg, nil
}

// redact returns s with any password replaced by xxxxx, for messages.
func redact(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return s
	}
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return s
	}
	user, _, hasPass := strings.Cut(rest[:at], ":")
	if !hasPass {
		return s
	}
	return scheme + "://" + user + ":xxxxx" + rest[at:]
}

// CheckDSN reports what is wrong with dsn, as Open would, without
// connecting: for configuration checks.
func CheckDSN(dsn string) error {
	_, err := parseDSN(dsn)
	return err
}

package store

import (
	"strings"
	"testing"
)

func TestParseDSN(t *testing.T) {
	tests := []struct {
		dsn     string
		dialect string
		driver  string // whole, or a prefix when it ends in "*"
		path    string
	}{
		{"sqlite:calltrail.db", "sqlite", "file:calltrail.db?_busy_timeout=5000&_journal_mode=WAL", "calltrail.db"},
		{"sqlite:/var/lib/calltrail/calls.db", "sqlite", "file:/var/lib/calltrail/calls.db?*", "/var/lib/calltrail/calls.db"},
		{"sqlite:///var/lib/calltrail/calls.db", "sqlite", "file:/var/lib/calltrail/calls.db?*", "/var/lib/calltrail/calls.db"},
		{"sqlite:x.db?_busy_timeout=100", "sqlite", "file:x.db?_busy_timeout=100&_journal_mode=WAL", "x.db"},
		{"sqlite::memory:", "sqlite", "file::memory:?_busy_timeout=5000", ""},
		{"postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "postgres", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", ""},
		{"postgresql://u:p@db/calls", "postgres", "postgresql://u:p@db/calls", ""},
		{"mysql://root@tcp(127.0.0.1:3306)/test", "mysql", "root@tcp(127.0.0.1:3306)/test?*", ""},
		{"mysql://u:p@tcp(db:3306)/calls?charset=utf8mb4", "mysql", "u:p@tcp(db:3306)/calls?*", ""},
		{"mysql://u:p@db/calls", "mysql", "u:p@tcp(db:3306)/calls?*", ""},
		{"mariadb://u:p%40x@db:3307/calls?timeout=5s", "mysql", "u:p@x@tcp(db:3307)/calls?*", ""},
	}
	for _, tt := range tests {
		t.Run(tt.dsn, func(t *testing.T) {
			d, err := parseDSN(tt.dsn)
			if err != nil {
				t.Fatal(err)
			}
			if d.dialect != tt.dialect || d.path != tt.path {
				t.Errorf("dialect, path = %q, %q; want %q, %q", d.dialect, d.path, tt.dialect, tt.path)
			}
			if prefix, ok := strings.CutSuffix(tt.driver, "*"); ok {
				if !strings.HasPrefix(d.driver, prefix) {
					t.Errorf("driver DSN = %q, want prefix %q", d.driver, prefix)
				}
			} else if d.driver != tt.driver {
				t.Errorf("driver DSN = %q, want %q", d.driver, tt.driver)
			}
			if d.dialect == "mysql" {
				// loc=UTC is the driver's default and so not written out.
				if !strings.Contains(d.driver, "parseTime=true") || strings.Contains(d.driver, "loc=") {
					t.Errorf("driver DSN %q: want parseTime=true and UTC", d.driver)
				}
			}
		})
	}
}

func TestParseDSNErrors(t *testing.T) {
	tests := []struct {
		dsn  string
		want string
	}{
		{"", "store: DSN has no scheme"},
		{"calltrail.db", "store: DSN has no scheme"},
		{"/var/lib/calltrail.db", "store: DSN has no scheme"},
		{"user:s3cret@tcp(db:3306)/calls", "store: DSN has no scheme"},
		{"oracle://u:s3cret@db/x", `store: DSN scheme "oracle" unknown`},
		{"sqlite:", "store: sqlite DSN: missing file name"},
		{"sqlite:x.db?a=%zz", "store: sqlite DSN: malformed options"},
		{"postgres://u:s3cret%zz@db/calls", "store: postgres DSN: malformed URL"},
		{"postgres://u:s3cret@db/calls?sslmode=bogus", "store: postgres DSN:"},
		{"postgres:u:s3cret@db", "store: postgres DSN: want postgres://"},
		{"mysql:u:s3cret@tcp(db)/x", "store: mysql DSN: want mysql://"},
		{"mysql://u:s3cret@tcp(db:3306)", "store: mysql DSN: invalid DSN: missing the slash"},
		{"mysql://u:s3cret@tcp(db:3306/calls", "store: mysql DSN:"},
		{"mysql://u:s3cret@tcp(db:3306)/", "store: mysql DSN: missing database name"},
		{"mysql://u:s3cret@db:3306/", "store: mysql DSN: missing database name"},
		{"mysql://u:s3cret@/calls", "store: mysql DSN: missing host"},
		{"mysql://u:s3cret@db/calls?parseTime=maybe", "store: mysql DSN: invalid bool value"},
		{"mysql://u:s3cret%zz@db/calls", "store: mysql DSN: malformed URL"},
	}
	for _, tt := range tests {
		t.Run(tt.dsn, func(t *testing.T) {
			_, err := parseDSN(tt.dsn)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("err = %q, want prefix %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("err shows the password: %q", err)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"postgres://u:s3cret@db/x", "postgres://u:xxxxx@db/x"},
		{"mysql://u:s3cret@tcp(db:3306)/x", "mysql://u:xxxxx@tcp(db:3306)/x"},
		{"postgres://u@db/x", "postgres://u@db/x"},
		{"sqlite:x.db", "sqlite:x.db"},
	}
	for _, tt := range tests {
		if got := redact(tt.in); got != tt.want {
			t.Errorf("redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

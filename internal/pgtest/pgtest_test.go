package pgtest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func connect(t *testing.T, dsn string) (*pgx.Conn, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return pgx.Connect(ctx, dsn)
}

func count(t *testing.T, conn *pgx.Conn) int {
	t.Helper()
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM rows").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A stopped or crashed cluster refuses connections and ends the open
// ones; started again on the same address (or restarted), it still holds
// every committed row.
func TestStopCrashStart(t *testing.T) {
	c := New(t)
	if strings.HasSuffix(c.Addr(), ":5432") {
		t.Fatalf("private cluster on the shared server's port: %s", c.Addr())
	}
	conn, err := connect(t, c.DSN())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(context.Background(), "CREATE TABLE rows (n int)"); err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct {
		name string
		down func()
	}{
		{"pg_ctl stop -m fast", c.Stop},
		{"pg_ctl stop -m immediate", c.Crash},
	} {
		if _, err := conn.Exec(context.Background(), "INSERT INTO rows VALUES ($1)", i); err != nil {
			t.Fatalf("%s: insert before: %v", tc.name, err)
		}
		tc.down()
		if c.Running() {
			t.Errorf("%s: Running() after the stop", tc.name)
		}
		if _, err := conn.Exec(context.Background(), "SELECT 1"); err == nil {
			t.Errorf("%s: a session survived the server", tc.name)
		}
		conn.Close(context.Background())
		if _, err := connect(t, c.DSN()); err == nil {
			t.Fatalf("%s: the stopped server took a connection", tc.name)
		}
		c.Start()
		conn, err = connect(t, c.DSN())
		if err != nil {
			t.Fatalf("%s: after Start: %v", tc.name, err)
		}
		if n := count(t, conn); n != i+1 {
			t.Errorf("%s: %d rows after the restart, want %d", tc.name, n, i+1)
		}
	}
	conn.Close(context.Background())
	c.Restart()
	if conn, err = connect(t, c.DSN()); err != nil {
		t.Fatalf("after Restart: %v", err)
	}
	if n := count(t, conn); n != 2 {
		t.Errorf("%d rows after Restart, want 2", n)
	}
	conn.Close(context.Background())
	if !strings.Contains(c.Log(), "database system was interrupted") && !strings.Contains(c.Log(), "not properly shut down") {
		t.Errorf("the server log shows no crash recovery after the immediate stop:\n%s", c.Log())
	}
}

// The newest version is chosen by number, not by spelling; a directory
// without all three binaries does not count.
func TestFindBin(t *testing.T) {
	for _, tc := range []struct {
		name     string
		versions []string // directories with the server binaries
		partial  []string // directories with pg_ctl only
		want     string   // "" for none
	}{
		{"one", []string{"15"}, nil, "15"},
		{"numeric order", []string{"9.6", "16", "13"}, nil, "16"},
		{"minor versions", []string{"9.10", "9.6"}, nil, "9.10"},
		{"incomplete newest", []string{"15"}, []string{"17"}, "15"},
		{"none", nil, []string{"17"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			mk := func(v string, names ...string) {
				bin := filepath.Join(root, v, "bin")
				if err := os.MkdirAll(bin, 0o755); err != nil {
					t.Fatal(err)
				}
				for _, n := range names {
					if err := os.WriteFile(filepath.Join(bin, n), []byte("#!/bin/sh\n"), 0o755); err != nil {
						t.Fatal(err)
					}
				}
			}
			for _, v := range tc.versions {
				mk(v, "initdb", "pg_ctl", "postgres")
			}
			for _, v := range tc.partial {
				mk(v, "pg_ctl")
			}
			t.Setenv("PATH", root) // nothing found on PATH either
			got, err := findBin(filepath.Join(root, "*", "bin"))
			switch {
			case tc.want == "" && err == nil:
				t.Errorf("found %s, want none", got)
			case tc.want != "" && err != nil:
				t.Errorf("%v, want %s", err, tc.want)
			case tc.want != "" && got != filepath.Join(root, tc.want, "bin"):
				t.Errorf("found %s, want version %s", got, tc.want)
			}
		})
	}
}

package main

import (
	"context"
	"database/sql"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	_ "github.com/mattn/go-sqlite3"
)

// TestBenchStore writes a generated stream's calls through the batching
// writer and checks the figures it prints describe what was written, and
// that it leaves no table behind.
func TestBenchStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	stream := filepath.Join(dir, "gen.ami")
	var out, errb strings.Builder
	if err := run(ctx, []string{"gen", "--calls", "300", "--concurrency", "20", "--seed", "5", "--out", stream}, &out, &errb); err != nil {
		t.Fatalf("gen: %v\n%s", err, errb.String())
	}
	db := filepath.Join(dir, "bench.db")
	tests := []struct {
		name  string
		args  []string
		calls int
	}{
		{"all calls", nil, 300},
		{"first 120, batches of 50, two writers", []string{"--calls", "120", "--batch", "50", "--writers", "2"}, 120},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out.Reset()
			errb.Reset()
			args := append([]string{"bench", "store", "--repeat", "2", "--legs", "all", "--rates", "../../configs/rates.yaml", "--dsn", "sqlite:" + db}, tt.args...)
			if err := run(ctx, append(args, stream), &out, &errb); err != nil {
				t.Fatalf("bench store: %v\n%s", err, errb.String())
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if len(lines) != 2 || !strings.Contains(lines[0], "calls/s") {
				t.Fatalf("output:\n%s", out.String())
			}
			f := strings.Fields(lines[1])
			if f[0] != "sqlite" {
				t.Errorf("database %q", f[0])
			}
			if n, _ := strconv.Atoi(f[1]); n != tt.calls {
				t.Errorf("%d calls written, want %d", n, tt.calls)
			}
			if rows, _ := strconv.ParseFloat(f[2], 64); rows < 3 {
				t.Errorf("%v rows a call: a call is a calls row, legs and at least a billing record", rows)
			}
			if rate, _ := strconv.ParseFloat(f[6], 64); rate <= 0 {
				t.Errorf("calls/s %q", f[6])
			}
			if got := strings.Count(errb.String(), "bench store: run "); got != 2 {
				t.Errorf("%d runs reported, want 2:\n%s", got, errb.String())
			}
		})
	}
	conn, err := sql.Open("sqlite3", db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var left int
	if err := conn.QueryRow("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name LIKE 'bench%'").Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("%d bench tables left behind", left)
	}
}

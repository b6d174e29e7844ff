package store

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm/schema"

	"github.com/calltrail/calltrail/callgraph"
)

// TestBulkColumnsMatchSchema holds the hand-written column lists and
// value lists of the bulk writer to gorm's view of the row types: every
// column but the surrogate pk, in the order of the values, and each value
// the field of that column.
func TestBulkColumnsMatchSchema(t *testing.T) {
	c := fullCall("pbx1", "m.1", at(5))
	row, kids, err := toRows(c, time.Unix(1_700_000_000, 0))
	if err != nil {
		t.Fatal(err)
	}
	// A key unlike any other value, so that a CallPK out of place shows.
	row.PK = 77
	kids.legs[0].CallPK, kids.tags[0].CallPK, kids.connections[0].CallPK = 77, 77, 77
	kids.segments[0].CallPK, kids.queues[0].CallPK, kids.conferences[0].CallPK = 77, 77, 77
	kids.participants[0].CallPK, kids.billing[0].CallPK, kids.gaps[0].CallPK = 77, 77, 77
	tests := []struct {
		table  bulkTable
		row    any // a pointer to a filled row
		values []any
	}{
		{callsTable, &row, row.values(nil)},
		{legsTable, &kids.legs[0], kids.legs[0].values(nil)},
		{legTagsTable, &kids.tags[0], kids.tags[0].values(nil)},
		{connectionsTable, &kids.connections[0], kids.connections[0].values(nil)},
		{segmentsTable, &kids.segments[0], kids.segments[0].values(nil)},
		{queueCallsTable, &kids.queues[0], kids.queues[0].values(nil)},
		{conferencesTable, &kids.conferences[0], kids.conferences[0].values(nil)},
		{participantsTable, &kids.participants[0], kids.participants[0].values(nil)},
		{billingTable, &kids.billing[0], kids.billing[0].values(nil)},
		{gapsTable, &kids.gaps[0], kids.gaps[0].values(nil)},
	}
	if len(tests) != len(callModels()) {
		t.Fatalf("%d tables tested, %d models", len(tests), len(callModels()))
	}
	names := namer{schema.NamingStrategy{}}
	for i, tt := range tests {
		t.Run(tt.table.model, func(t *testing.T) {
			if got := reflect.TypeOf(callModels()[i]); got != reflect.TypeOf(tt.row) {
				t.Fatalf("model %d is %v, test has %v", i, got, reflect.TypeOf(tt.row))
			}
			if want := reflect.TypeOf(tt.row).Elem().Name(); want != tt.table.model {
				t.Errorf("table model %q, row type %s", tt.table.model, want)
			}
			sch, err := schema.Parse(tt.row, &sync.Map{}, names)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, f := range sch.Fields {
				if f.DBName != "" && f.DBName != "pk" {
					want = append(want, f.DBName)
				}
			}
			if !slices.Equal(tt.table.columns, want) {
				t.Fatalf("columns\n got %q\nwant %q", tt.table.columns, want)
			}
			if len(tt.values) != len(want) {
				t.Fatalf("%d values for %d columns", len(tt.values), len(want))
			}
			rv := reflect.ValueOf(tt.row).Elem()
			for j, col := range want {
				f := sch.LookUpField(col)
				got := fmt.Sprintf("%#v", tt.values[j])
				exp := fmt.Sprintf("%#v", rv.FieldByIndex(f.StructField.Index).Interface())
				if got != exp {
					t.Errorf("column %s: value %s, field holds %s", col, got, exp)
				}
			}
		})
	}
}

func TestChunkRows(t *testing.T) {
	tests := []struct {
		left, per int
		want      []int
	}{
		{1, 840, []int{1}},
		{3000, 840, []int{840, 840, 840, 256, 128, 64, 32}},
		{2547, 840, []int{840, 840, 840, 16, 8, 2, 1}},
		{7, 840, []int{4, 2, 1}},
		{1000, 1000, []int{1000}},
	}
	for _, tt := range tests {
		var got []int
		for left := tt.left; left > 0; {
			k := chunkRows(left, tt.per)
			got = append(got, k)
			left -= k
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("chunkRows(%d, %d): %v, want %v", tt.left, tt.per, got, tt.want)
		}
	}
}

// TestSaveBigBatch saves more rows of each table than one statement
// holds, plus odd remainders, and reads every call back.
func TestSaveBigBatch(t *testing.T) {
	eachDB(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		for round, n := range []int{1203, 17} {
			calls := make([]*callgraph.Call, n)
			for i := range calls {
				calls[i] = fullCall("pbx1", fmt.Sprintf("big%d.%d", round, i), at(float64(round*10000+i)))
			}
			if err := s.SaveCalls(ctx, calls); err != nil {
				t.Fatal(err)
			}
			for _, i := range []int{0, n / 2, n - 1} {
				got, err := s.Call(ctx, "pbx1", calls[i].ID)
				if err != nil {
					t.Fatal(err)
				}
				sameCall(t, got, calls[i])
			}
		}
		all, err := s.Calls(ctx, Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 1220 {
			t.Errorf("%d calls stored, want 1220", len(all))
		}
		for _, c := range all {
			if len(c.Legs) != 3 || len(c.Connections) != 2 || len(c.Billing) != 2 || len(c.Conferences[0].Participants) != 2 {
				t.Fatalf("call %s comes back with %d legs, %d connections, %d billing records", c.ID, len(c.Legs), len(c.Connections), len(c.Billing))
			}
		}
	})
}

// TestBadCallInBigBatch: the database refusing one call of a big batch
// (a party longer than its column, on PostgreSQL and MySQL) fails the
// whole transaction, bulk rows and all, and the Writer then stores every
// other call and rejects that one alone. SQLite has no column sizes and
// takes it.
func TestBadCallInBigBatch(t *testing.T) {
	eachDB(t, func(t *testing.T, s *Store) {
		calls := make([]*callgraph.Call, 300)
		for i := range calls {
			calls[i] = fullCall("pbx1", fmt.Sprintf("bad.%d", i), at(float64(i)))
		}
		calls[150].Legs[2].Party = strings.Repeat("9", 300)
		err := s.SaveCalls(t.Context(), calls)
		sizes := s.Dialect() != "sqlite"
		if sizes && err == nil {
			t.Fatal("an oversized party was taken")
		}
		if sizes {
			if stored, err := s.Calls(t.Context(), Filter{}); err != nil || len(stored) != 0 {
				t.Fatalf("%d calls stored by a failed batch (err %v)", len(stored), err)
			}
		}
		in := make(chan *callgraph.Call, len(calls))
		for _, c := range calls {
			in <- c
		}
		close(in)
		w := &Writer{Store: s, In: in, MaxBatch: 1000, MaxDelay: time.Millisecond}
		if err := w.Run(t.Context()); err != nil {
			t.Fatal(err)
		}
		st := w.Status()
		want := uint64(len(calls))
		if sizes {
			want--
		}
		if st.Saved != want || st.Rejected != uint64(len(calls))-want {
			t.Errorf("saved %d, rejected %d; want %d and %d", st.Saved, st.Rejected, want, uint64(len(calls))-want)
		}
		stored, err := s.Calls(t.Context(), Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if uint64(len(stored)) != want {
			t.Errorf("%d calls stored, want %d", len(stored), want)
		}
		for _, c := range stored {
			if sizes && c.ID == "bad.150" {
				t.Error("the refused call is stored")
			}
		}
		got, err := s.Call(t.Context(), "pbx1", "bad.299")
		if err != nil {
			t.Fatal(err)
		}
		sameCall(t, got, calls[299])
	})
}

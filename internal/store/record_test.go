package store

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/calltrail/calltrail/callgraph"
)

// filled returns a call with every field of every type in the record set
// to a value of its own (two entries in every list), at the precision the
// store keeps: microseconds for times, milliseconds for durations.
func filled() *callgraph.Call {
	n := 0
	next := func() int { n++; return n }
	base := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	var fill func(v reflect.Value)
	fill = func(v reflect.Value) {
		switch x := v.Addr().Interface().(type) {
		case *callgraph.Time:
			x.Time = base.Add(time.Duration(next()) * 1234 * time.Microsecond)
			return
		case *callgraph.Seconds:
			*x = callgraph.Seconds(float64(next()) + 0.125)
			return
		}
		switch v.Kind() {
		case reflect.String:
			v.SetString(fmt.Sprintf("s%d", next()))
		case reflect.Int, reflect.Int64:
			v.SetInt(int64(next()))
		case reflect.Bool:
			v.SetBool(true)
		case reflect.Float64:
			v.SetFloat(float64(next()) + 0.5)
		case reflect.Pointer:
			v.Set(reflect.New(v.Type().Elem()))
			fill(v.Elem())
		case reflect.Slice:
			v.Set(reflect.MakeSlice(v.Type(), 2, 2))
			for i := range 2 {
				fill(v.Index(i))
			}
		case reflect.Map:
			m := reflect.MakeMap(v.Type())
			for range 2 {
				k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
				fill(k)
				fill(e)
				m.SetMapIndex(k, e)
			}
			v.Set(m)
		case reflect.Struct:
			for i := range v.NumField() {
				if v.Type().Field(i).IsExported() {
					fill(v.Field(i))
				}
			}
		default:
			panic(fmt.Sprintf("filled: no value for %s", v.Type()))
		}
	}
	c := new(callgraph.Call)
	fill(reflect.ValueOf(c).Elem())
	return c
}

// TestEveryFieldSurvives: a call with every field set comes back whole.
// A field callgraph gains fails here until a column or the record's
// extra (schema.go) keeps it.
func TestEveryFieldSurvives(t *testing.T) {
	eachDB(t, func(t *testing.T, s *Store) {
		c := filled()
		if err := s.SaveCall(t.Context(), c); err != nil {
			t.Fatal(err)
		}
		got, err := s.Call(t.Context(), c.Server, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		sameCall(t, got, c)
	})
}

// TestRecordHoldsOnlyExtras: the record column holds what no column
// does, and nothing when there is nothing such.
func TestRecordHoldsOnlyExtras(t *testing.T) {
	tests := []struct {
		name string
		call func() *callgraph.Call
		want string
	}{
		{"no extras", func() *callgraph.Call { return fullCall("pbx1", "x.1", at(0)) }, ""},
		{"SIP Call-ID of the second leg", func() *callgraph.Call {
			c := fullCall("pbx1", "x.2", at(0))
			c.Legs[1].SIPCallID = "abc@10.0.0.1"
			return c
		}, `{"legs":[{},{"sip_call_id":"abc@10.0.0.1"},{}]}`},
		{"a link", func() *callgraph.Call {
			c := fullCall("pbx1", "x.3", at(0))
			c.Linked = []callgraph.Link{{Server: "pbx2", CallID: "9.1", Leg: "9.1", Via: "x.32", SIPCallID: "abc"}}
			return c
		}, `{"linked":[{"server":"pbx2","call_id":"9.1","leg":"9.1","via":"x.32","sip_call_id":"abc"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			row, _, err := toRows(tt.call(), time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if row.Record != tt.want {
				t.Errorf("record %s, want %s", row.Record, tt.want)
			}
		})
	}
}

// TestWholeRecordsStillRead: rows written before the record held only
// extras, with the whole call in it, read as before, the columns winning
// over a stale copy in the record.
func TestWholeRecordsStillRead(t *testing.T) {
	eachDB(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		c := fullCall("pbx1", "old.1", at(0))
		c.Legs[0].SIPCallID = "old@pbx"
		if err := s.SaveCall(ctx, c); err != nil {
			t.Fatal(err)
		}
		stale := *c
		stale.Disposition = "BUSY"
		whole, err := json.Marshal(&stale)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.db.WithContext(ctx).Model(&callRow{}).Where("call_id = ?", c.ID).Update("record", string(whole)).Error; err != nil {
			t.Fatal(err)
		}
		got, err := s.Call(ctx, "pbx1", c.ID)
		if err != nil {
			t.Fatal(err)
		}
		sameCall(t, got, c)
	})
}

package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/gorm"
)

// Bulk rows: a batch's rows go to the database without gorm's reflection,
// as PostgreSQL COPY or as multi-row INSERT statements (SQLite, MySQL).
// Each row type lists its columns and appends its values in that order,
// by hand; TestBulkColumnsMatchSchema holds the lists to gorm's schema.

// A bulkRow is a row type the bulk writer can insert.
type bulkRow[T any] interface {
	*T
	// values appends the row's values, in the order of its columns.
	values(dst []any) []any
}

// A bulkTable names a table's model and its columns, in the order of its
// rows' values. The surrogate pk is left out: the database numbers the
// rows (insertCalls gives calls rows theirs on PostgreSQL).
type bulkTable struct {
	model   string
	columns []string
}

var (
	callsTable = bulkTable{"callRow", []string{
		"server", "call_id", "started_at", "ended_at", "disposition", "complete",
		"unplaced", "local_channels", "record", "stored_at"}}
	legsTable = bulkTable{"legRow", []string{
		"call_pk", "seq", "leg_id", "channel", "party", "role", "caller_num", "caller_name",
		"dialed", "context", "created_at", "answered_at", "ended_at", "duration_ms", "ring_ms",
		"billsec_ms", "talk_ms", "hold_ms", "disposition", "cause", "cause_text", "sip_code",
		"released_by", "account", "has_quality", "quality_codec", "rtt_ms",
		"from_packets", "from_lost", "from_loss_pct", "from_jitter_ms", "from_mos", "from_mes",
		"to_packets", "to_lost", "to_loss_pct", "to_jitter_ms", "to_mos", "to_mes"}}
	legTagsTable = bulkTable{"legTagRow", []string{
		"call_pk", "leg_seq", "leg_id", "tag_key", "tag_value"}}
	connectionsTable = bulkTable{"connectionRow", []string{
		"call_pk", "seq", "kind", "by_leg", "from_leg", "to_leg", "at", "answered", "status",
		"ring_ms", "pdd_ms", "consult", "target", "external", "dest_type"}}
	segmentsTable = bulkTable{"segmentRow", []string{
		"call_pk", "seq", "leg_a", "leg_b", "started_at", "ended_at", "seconds_ms"}}
	queueCallsTable = bulkTable{"queueCallRow", []string{
		"call_pk", "seq", "queue", "caller", "joined_at", "left_at", "wait_ms", "outcome",
		"agent", "attempts", "position"}}
	conferencesTable = bulkTable{"conferenceRow", []string{
		"call_pk", "seq", "name", "started_at", "ended_at"}}
	participantsTable = bulkTable{"conferenceParticipantRow", []string{
		"call_pk", "conference_seq", "seq", "leg_id", "channel", "joined_at", "left_at"}}
	billingTable = bulkTable{"billingRecordRow", []string{
		"call_pk", "seq", "leg_id", "party", "account", "billsec_ms", "billed_seconds",
		"destination", "cost", "currency", "plan", "rate_row", "rate_increment", "units",
		"rating_error"}}
	gapsTable = bulkTable{"callGapRow", []string{
		"call_pk", "seq", "from_at", "to_at", "reason", "estimated"}}
)

func (r *callRow) values(dst []any) []any {
	return append(dst, r.Server, r.CallID, r.StartedAt, r.EndedAt, r.Disposition,
		r.Complete, r.Unplaced, r.LocalChannels, r.Record, r.StoredAt)
}

func (r *legRow) values(dst []any) []any {
	return append(dst, r.CallPK, r.Seq, r.LegID, r.Channel, r.Party, r.Role, r.CallerNum,
		r.CallerName, r.Dialed, r.Context, r.CreatedAt, r.AnsweredAt, r.EndedAt, r.DurationMS,
		r.RingMS, r.BillsecMS, r.TalkMS, r.HoldMS, r.Disposition, r.Cause, r.CauseText,
		r.SIPCode, r.ReleasedBy, r.Account, r.HasQuality, r.QualityCodec, r.RTTMS,
		r.FromPackets, r.FromLost, r.FromLossPct, r.FromJitterMS, r.FromMOS, r.FromMES,
		r.ToPackets, r.ToLost, r.ToLossPct, r.ToJitterMS, r.ToMOS, r.ToMES)
}

func (r *legTagRow) values(dst []any) []any {
	return append(dst, r.CallPK, r.LegSeq, r.LegID, r.TagKey, r.TagValue)
}

func (r *connectionRow) values(dst []any) []any {
	return append(dst, r.CallPK, r.Seq, r.Kind, r.ByLeg, r.FromLeg, r.ToLeg, r.At, r.Answered,
		r.Status, r.RingMS, r.PDDMS, r.Consult, r.Target, r.External, r.DestType)
}

func (r *segmentRow) values(dst []any) []any {
	return append(dst, r.CallPK, r.Seq, r.LegA, r.LegB, r.StartedAt, r.EndedAt, r.SecondsMS)
}

func (r *queueCallRow) values(dst []any) []any {
	return append(dst, r.CallPK, r.Seq, r.Queue, r.Caller, r.JoinedAt, r.LeftAt, r.WaitMS,
		r.Outcome, r.Agent, r.Attempts, r.Position)
}

func (r *conferenceRow) values(dst []any) []any {
	return append(dst, r.CallPK, r.Seq, r.Name, r.StartedAt, r.EndedAt)
}

func (r *conferenceParticipantRow) values(dst []any) []any {
	return append(dst, r.CallPK, r.ConferenceSeq, r.Seq, r.LegID, r.Channel, r.JoinedAt, r.LeftAt)
}

func (r *billingRecordRow) values(dst []any) []any {
	return append(dst, r.CallPK, r.Seq, r.LegID, r.Party, r.Account, r.BillsecMS,
		r.BilledSeconds, r.Destination, r.Cost, r.Currency, r.Plan, r.RateRow,
		r.RateIncrement, r.Units, r.RatingError)
}

func (r *callGapRow) values(dst []any) []any {
	return append(dst, r.CallPK, r.Seq, r.FromAt, r.ToAt, r.Reason, r.Estimated)
}

// A txn is one transaction of SaveCalls or a re-rating, seen two ways:
// through gorm for the statements that are few per batch, and through
// the driver for the bulk rows.
type txn struct {
	gorm *gorm.DB
	sql  *sql.Tx
	conn *sql.Conn // the transaction's connection, for COPY
}

// inTx runs f in a transaction on a connection of its own, and commits
// when f returns nil. An error or a panic rolls it back.
func (s *Store) inTx(ctx context.Context, f func(*txn) error) (err error) {
	conn, err := s.sqlDB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			tx.Rollback()
		}
	}()
	g := s.db.Session(&gorm.Session{Context: ctx, NewDB: true})
	if p, ok := s.db.ConnPool.(*gorm.PreparedStmtDB); ok {
		g.Statement.ConnPool = &gorm.PreparedStmtTX{Tx: tx, PreparedStmtDB: p}
	} else {
		g.Statement.ConnPool = tx
	}
	if err := f(&txn{gorm: g, sql: tx, conn: conn}); err != nil {
		return err
	}
	done = true
	return tx.Commit()
}

// bulkInsert writes rows into table t, all of them or none (an error
// leaves the transaction to be rolled back).
func bulkInsert[T any, P bulkRow[T]](ctx context.Context, s *Store, tx *txn, t bulkTable, rows []T) error {
	if len(rows) == 0 {
		return nil
	}
	n := len(t.columns)
	vals := make([]any, 0, len(rows)*n)
	for i := range rows {
		vals = P(&rows[i]).values(vals)
	}
	if len(vals) != len(rows)*n {
		return fmt.Errorf("%s: %d values for %d rows of %d columns", t.model, len(vals), len(rows), n)
	}
	name := s.table(t.model)
	if s.dialect == "postgres" {
		return copyRows(ctx, tx.conn, name, t.columns, vals, len(rows))
	}
	per := min(maxBulkRows, s.maxVars()/n)
	for len(vals) > 0 {
		k := chunkRows(len(vals)/n, per)
		stmt, err := s.insertStmt(ctx, tx, name, t.columns, k)
		if err != nil {
			return err
		}
		_, err = stmt.ExecContext(ctx, vals[:k*n]...)
		stmt.Close()
		if err != nil {
			return fmt.Errorf("insert into %s: %w", name, err)
		}
		vals = vals[k*n:]
	}
	return nil
}

// chunkRows is how many of left rows the next INSERT takes: per while
// that many are left, then the largest power of two that fits. Every
// statement is then of one of a few sizes, prepared once and reused,
// whatever the sizes of the batches.
func chunkRows(left, per int) int {
	if left >= per {
		return per
	}
	k := 1
	for k*2 <= left {
		k *= 2
	}
	return k
}

// maxBulkRows caps the rows of one INSERT statement.
const maxBulkRows = 1000

// maxVars is the most placeholders one statement may hold: SQLite's
// SQLITE_MAX_VARIABLE_NUMBER (32,766 since 3.32), MySQL's 65,535.
func (s *Store) maxVars() int {
	if s.dialect == "sqlite" {
		return 32766
	}
	return 65535
}

// copyRows sends rows through PostgreSQL's COPY on the transaction's
// connection.
func copyRows(ctx context.Context, conn *sql.Conn, table string, columns []string, vals []any, rows int) error {
	n := len(columns)
	return conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("copy into %s: driver connection is %T, not pgx", table, dc)
		}
		src := pgx.CopyFromSlice(rows, func(i int) ([]any, error) { return vals[i*n : (i+1)*n], nil })
		got, err := c.Conn().CopyFrom(ctx, pgx.Identifier{table}, columns, src)
		if err != nil {
			return fmt.Errorf("copy into %s: %w", table, err)
		}
		if got != int64(rows) {
			return fmt.Errorf("copy into %s: %d of %d rows copied", table, got, rows)
		}
		return nil
	})
}

// insertStmt returns the transaction's statement inserting rows rows
// into table. A statement of a size met before (chunkRows keeps the
// sizes few) is prepared once for the store and reused. One of a new size is prepared for this transaction
// only, and again for the store once the transaction is over (SQLite
// has a single connection, which the transaction holds): see
// preparePending.
func (s *Store) insertStmt(ctx context.Context, tx *txn, table string, columns []string, rows int) (*sql.Stmt, error) {
	key := stmtKey{table, rows}
	s.stmtMu.Lock()
	stmt, ok := s.stmts[key]
	q := ""
	if !ok {
		q = insertSQL(s.dialect, table, columns, rows)
		if len(s.stmts)+len(s.pending) < maxStmts {
			s.pending[key] = q
		}
	}
	s.stmtMu.Unlock()
	if ok {
		return tx.sql.StmtContext(ctx, stmt), nil
	}
	st, err := tx.sql.PrepareContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("prepare insert into %s: %w", table, err)
	}
	return st, nil
}

// preparePending prepares for the store the statements transactions
// asked for. A failure only means they are prepared again next time.
func (s *Store) preparePending(ctx context.Context) {
	s.stmtMu.Lock()
	pending := s.pending
	s.pending = map[stmtKey]string{}
	s.stmtMu.Unlock()
	for key, q := range pending {
		stmt, err := s.sqlDB.PrepareContext(ctx, q)
		if err != nil {
			continue
		}
		s.stmtMu.Lock()
		if _, dup := s.stmts[key]; dup {
			stmt.Close()
		} else {
			s.stmts[key] = stmt
		}
		s.stmtMu.Unlock()
	}
}

// maxStmts caps the prepared INSERT statements a store keeps.
const maxStmts = 256

type stmtKey struct {
	table string
	rows  int
}

// stmtCache holds a store's prepared INSERT statements.
type stmtCache struct {
	stmtMu  sync.Mutex
	stmts   map[stmtKey]*sql.Stmt
	pending map[stmtKey]string // to prepare once the transaction is over
}

func newStmtCache() stmtCache {
	return stmtCache{stmts: map[stmtKey]*sql.Stmt{}, pending: map[stmtKey]string{}}
}

func (c *stmtCache) closeStmts() error {
	c.stmtMu.Lock()
	defer c.stmtMu.Unlock()
	var errs []error
	for k, st := range c.stmts {
		errs = append(errs, st.Close())
		delete(c.stmts, k)
	}
	return errors.Join(errs...)
}

// insertSQL is INSERT INTO table (columns) VALUES (…), … with rows
// groups of placeholders.
func insertSQL(dialect, table string, columns []string, rows int) string {
	quote := func(s string) string { return `"` + s + `"` }
	if dialect == "mysql" {
		quote = func(s string) string { return "`" + s + "`" }
	}
	var b strings.Builder
	b.WriteString("INSERT INTO ")
	b.WriteString(quote(table))
	b.WriteString(" (")
	for i, c := range columns {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(quote(c))
	}
	b.WriteString(") VALUES ")
	group := "(" + strings.Repeat("?,", len(columns)-1) + "?)"
	for i := range rows {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(group)
	}
	return b.String()
}

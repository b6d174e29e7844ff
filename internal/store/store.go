// Package store keeps completed call records in a SQL database: SQLite
// (the default, one file), PostgreSQL or MySQL/MariaDB, through gorm.
//
// A call is written in one transaction, as a calls row and one row per
// leg, connection, talk segment, queue stay, conference, billing record
// and gap, so that reports can query them with plain SQL. Saving a call
// that is already stored (same server and call id) replaces it: replaying
// a capture or restarting the daemon never duplicates a call. Writer puts
// a store behind a channel, batching and riding out database outages.
//
// gorm stays inside this package: callers see callgraph records only.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	gormmysql "gorm.io/driver/mysql"
	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	gormlogger "gorm.io/gorm/logger"
	"gorm.io/gorm/schema"

	"github.com/calltrail/calltrail/callgraph"
)

// ErrNotFound is returned by Call for a call the store does not hold.
var ErrNotFound = errors.New("store: call not found")

// Options tune Open.
type Options struct {
	// TablePrefix goes in front of every table and index name, so that
	// several calltrail instances (or test runs) can share one database.
	// Lower-case letters, digits and underscores only.
	TablePrefix string
	// Logger receives slow-query warnings. Nil means silent.
	Logger *slog.Logger
}

// A Store is an open database with calltrail's tables. It is safe for
// concurrent use.
type Store struct {
	db      *gorm.DB
	sqlDB   *sql.DB
	dialect string
	names   namer
	stmtCache
}

// Open opens the database named by dsn with default options; see
// OpenWith.
func Open(ctx context.Context, dsn string) (*Store, error) {
	return OpenWith(ctx, dsn, Options{})
}

var validPrefix = regexp.MustCompile(`^[a-z0-9_]*$`)

// OpenWith opens the database named by dsn (sqlite:FILE, sqlite::memory:,
// postgres://…, mysql://…), checks that it answers, and creates or
// updates calltrail's tables (gorm AutoMigrate: it adds tables, columns
// and indexes, and never drops any). A new SQLite file is created with
// mode 0600.
func OpenWith(ctx context.Context, dsn string, opts Options) (*Store, error) {
	d, err := parseDSN(dsn)
	if err != nil {
		return nil, err
	}
	if !validPrefix.MatchString(opts.TablePrefix) {
		return nil, fmt.Errorf("store: table prefix %q: want lower-case letters, digits and underscores", opts.TablePrefix)
	}
	sqlDB, dialector, err := d.open()
	if err != nil {
		return nil, err
	}
	if err := sqlDB.PingContext(ctx); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("store: %s: connect: %w", d.dialect, err)
	}
	names := namer{schema.NamingStrategy{TablePrefix: opts.TablePrefix}}
	cfg := &gorm.Config{
		NamingStrategy:         names,
		SkipDefaultTransaction: true,
		PrepareStmt:            true, // a batch runs the same inserts again and again
		DisableAutomaticPing:   true,
		Logger:                 gormlogger.Discard,
		NowFunc:                func() time.Time { return time.Now().UTC() },
	}
	if opts.Logger != nil {
		cfg.Logger = gormlogger.NewSlogLogger(opts.Logger, gormlogger.Config{
			SlowThreshold:             time.Second,
			LogLevel:                  gormlogger.Warn,
			IgnoreRecordNotFoundError: true,
			ParameterizedQueries:      true, // never log call data or credentials
		})
	}
	db, err := gorm.Open(dialector, cfg)
	if err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("store: %s: %w", d.dialect, err)
	}
	s := &Store{db: db, sqlDB: sqlDB, dialect: d.dialect, names: names,
		stmtCache: newStmtCache()}
	if err := s.db.WithContext(ctx).AutoMigrate(models()...); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("store: %s: migrate: %w", d.dialect, err)
	}
	return s, nil
}

// open makes the connection pool and the gorm dialector over it.
func (d dsn) open() (*sql.DB, gorm.Dialector, error) {
	switch d.dialect {
	case "sqlite":
		if d.path != "" {
			if err := createPrivate(d.path); err != nil {
				return nil, nil, err
			}
		}
		driver := d.driver
		if !strings.Contains(driver, "_txlock=") {
			// A transaction takes the write lock at BEGIN. Every one of
			// calltrail's reads before it writes (call keys, balances);
			// begun deferred, it would fail with SQLITE_BUSY, busy
			// timeout or not, when another process (calltrail account,
			// rerate) wrote in between.
			driver += "&_txlock=immediate"
		}
		db, err := sql.Open(sqlite.DriverName, driver)
		if err != nil {
			return nil, nil, fmt.Errorf("store: sqlite: %w", err)
		}
		// One connection: SQLite serializes writers anyway, and an
		// in-memory database lives only as long as its connection.
		db.SetMaxOpenConns(1)
		db.SetConnMaxLifetime(0)
		db.SetConnMaxIdleTime(0)
		return db, sqlite.New(sqlite.Config{Conn: db}), nil
	case "postgres":
		cfg, err := pgx.ParseConfig(d.driver)
		if err != nil {
			return nil, nil, fmt.Errorf("store: postgres DSN: %w", err)
		}
		db := stdlib.OpenDB(*cfg)
		return db, postgres.New(postgres.Config{Conn: db}), nil
	case "mysql":
		cfg, err := mysql.ParseDSN(d.driver)
		if err != nil {
			return nil, nil, fmt.Errorf("store: mysql DSN: %w", err)
		}
		// The driver otherwise prints connection trouble to stderr; the
		// same trouble comes back to us as errors.
		cfg.Logger = discardMySQLLogger{}
		conn, err := mysql.NewConnector(cfg)
		if err != nil {
			return nil, nil, fmt.Errorf("store: mysql DSN: %w", err)
		}
		db := sql.OpenDB(conn)
		db.SetConnMaxLifetime(5 * time.Minute)
		return db, gormmysql.New(gormmysql.Config{Conn: db}), nil
	}
	return nil, nil, fmt.Errorf("store: unknown dialect %q", d.dialect)
}

type discardMySQLLogger struct{}

func (discardMySQLLogger) Print(...any) {}

// createPrivate creates the SQLite file with mode 0600 if it does not
// exist yet; SQLite gives its -wal and -shm files the same mode.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("store: sqlite: create %w", err)
	}
	return f.Close()
}

// Close closes the database.
func (s *Store) Close() error { return errors.Join(s.closeStmts(), s.sqlDB.Close()) }

// Dialect names the database: "sqlite", "postgres" or "mysql".
func (s *Store) Dialect() string { return s.dialect }

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.sqlDB.PingContext(ctx); err != nil {
		return fmt.Errorf("store: %s: %w", s.dialect, err)
	}
	return nil
}

func (s *Store) table(model string) string { return s.names.TableName(model) }

type callKey struct{ server, id string }

// SaveCalls writes calls in one transaction. A call already stored under
// the same server and call id is replaced, children and all; within one
// batch the last of several calls with the same key wins. A call without
// an id or a start time is refused, and then nothing of the batch is
// written.
//
// The same transaction settles the prepaid accounts (accounts.go): it
// releases the reservations of the calls' legs and debits each call's
// cost from the accounts its billing records name, replacing the debit
// of a call saved before.
func (s *Store) SaveCalls(ctx context.Context, calls []*callgraph.Call) error {
	b, err := prepare(calls)
	if err != nil || len(b.rows) == 0 {
		return err
	}
	err = s.inTx(ctx, func(t *txn) error {
		return s.save(ctx, t, b)
	})
	s.preparePending(ctx)
	if err != nil {
		return fmt.Errorf("store: save %d calls: %w", len(b.rows), err)
	}
	return nil
}

// A batch is calls turned into rows, ready to save.
type batch struct {
	rows  []callRow
	kids  []children
	byKey map[callKey]int // index in rows
}

// prepare encodes calls; the last of several with one key wins. A big
// batch is encoded on every CPU: the JSON record is most of the cost.
func prepare(calls []*callgraph.Call) (batch, error) {
	now := time.Now()
	type encoded struct {
		row  callRow
		kids children
		err  error
	}
	out := make([]encoded, len(calls))
	encode := func(i int) {
		c := calls[i]
		switch {
		case c == nil:
		case c.ID == "":
			out[i].err = fmt.Errorf("store: call without call_id (server %q)", c.Server)
		case c.Start.IsZero():
			out[i].err = fmt.Errorf("store: call %s/%s has no start time", c.Server, c.ID)
		default:
			row, ch, err := toRows(c, now)
			if err != nil {
				err = fmt.Errorf("store: encode call %s/%s: %w", c.Server, c.ID, err)
			}
			out[i] = encoded{row, ch, err}
		}
	}
	workers := min(runtime.GOMAXPROCS(0), len(calls)/parallelEncode)
	if workers > 1 {
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := w; i < len(calls); i += workers {
					encode(i)
				}
			})
		}
		wg.Wait()
	} else {
		for i := range calls {
			encode(i)
		}
	}
	b := batch{byKey: make(map[callKey]int, len(calls))}
	for i, c := range calls {
		if c == nil {
			continue
		}
		if out[i].err != nil {
			return batch{}, out[i].err
		}
		k := callKey{c.Server, c.ID}
		if j, dup := b.byKey[k]; dup {
			b.rows[j], b.kids[j] = out[i].row, out[i].kids
			continue
		}
		b.byKey[k] = len(b.rows)
		b.rows = append(b.rows, out[i].row)
		b.kids = append(b.kids, out[i].kids)
	}
	return b, nil
}

// parallelEncode is the fewest calls per worker worth a goroutine.
const parallelEncode = 32

// SaveCall writes one call; see SaveCalls.
func (s *Store) SaveCall(ctx context.Context, c *callgraph.Call) error {
	return s.SaveCalls(ctx, []*callgraph.Call{c})
}

const (
	inChunk     = 500 // values in one IN (…) list
	insertChunk = 200 // rows in one INSERT
)

func (s *Store) save(ctx context.Context, t *txn, b batch) error {
	tx := t.gorm
	rows, kids, byKey := b.rows, b.kids, b.byKey
	replaced := map[callKey]bool{}
	if s.dialect == "postgres" {
		all, err := s.insertAllFresh(ctx, t, rows)
		if err != nil {
			return err
		}
		if all {
			return s.saveChildren(ctx, t, rows, kids, replaced)
		}
	}
	pks, err := s.lookupPKs(tx, rows)
	if err != nil {
		return err
	}
	// Replace: drop the old children, overwrite the calls row in place.
	var old []uint64
	var fresh []callRow
	for i := range rows {
		if pk, ok := pks[callKey{rows[i].Server, rows[i].CallID}]; ok {
			rows[i].PK = pk
			old = append(old, pk)
			replaced[callKey{rows[i].Server, rows[i].CallID}] = true
			if err := tx.Select("*").Updates(&rows[i]).Error; err != nil {
				return err
			}
			continue
		}
		fresh = append(fresh, rows[i])
	}
	for chunk := range slices.Chunk(old, inChunk) {
		for _, m := range childModels() {
			if err := tx.Where("call_pk IN ?", chunk).Delete(m).Error; err != nil {
				return err
			}
		}
	}
	if len(fresh) > 0 {
		if err := s.insertCalls(ctx, t, fresh); err != nil {
			return err
		}
		for _, r := range fresh {
			rows[byKey[callKey{r.Server, r.CallID}]].PK = r.PK
		}
	}
	return s.saveChildren(ctx, t, rows, kids, replaced)
}

// pgUniqueViolation is PostgreSQL's SQLSTATE for a duplicate key.
const pgUniqueViolation = "23505"

// insertAllFresh inserts every calls row as a new one, inside a
// savepoint. When a call is stored already, the unique key refuses the
// rows: it undoes them and reports false, for save to look the keys up
// first. Most batches hold only new calls, and skip that lookup.
func (s *Store) insertAllFresh(ctx context.Context, t *txn, rows []callRow) (bool, error) {
	if _, err := t.sql.ExecContext(ctx, "SAVEPOINT calltrail_fresh"); err != nil {
		return false, err
	}
	err := s.insertCalls(ctx, t, rows)
	if pgErr := (*pgconn.PgError)(nil); errors.As(err, &pgErr) && pgErr.Code == pgUniqueViolation {
		_, err := t.sql.ExecContext(ctx, "ROLLBACK TO SAVEPOINT calltrail_fresh")
		return false, err
	}
	if err != nil {
		return false, err
	}
	_, err = t.sql.ExecContext(ctx, "RELEASE SAVEPOINT calltrail_fresh")
	return err == nil, err
}

// saveChildren writes the children of rows, whose calls rows have their
// PK, and settles the prepaid accounts.
func (s *Store) saveChildren(ctx context.Context, t *txn, rows []callRow, kids []children, replaced map[callKey]bool) error {
	var all children
	for i := range rows {
		pk := rows[i].PK
		all.legs = appendWithPK(all.legs, kids[i].legs, func(r *legRow) { r.CallPK = pk })
		all.tags = appendWithPK(all.tags, kids[i].tags, func(r *legTagRow) { r.CallPK = pk })
		all.connections = appendWithPK(all.connections, kids[i].connections, func(r *connectionRow) { r.CallPK = pk })
		all.segments = appendWithPK(all.segments, kids[i].segments, func(r *segmentRow) { r.CallPK = pk })
		all.queues = appendWithPK(all.queues, kids[i].queues, func(r *queueCallRow) { r.CallPK = pk })
		all.conferences = appendWithPK(all.conferences, kids[i].conferences, func(r *conferenceRow) { r.CallPK = pk })
		all.participants = appendWithPK(all.participants, kids[i].participants, func(r *conferenceParticipantRow) { r.CallPK = pk })
		all.billing = appendWithPK(all.billing, kids[i].billing, func(r *billingRecordRow) { r.CallPK = pk })
		all.gaps = appendWithPK(all.gaps, kids[i].gaps, func(r *callGapRow) { r.CallPK = pk })
	}
	for _, insert := range []func() error{
		func() error { return bulkInsert(ctx, s, t, legsTable, all.legs) },
		func() error { return bulkInsert(ctx, s, t, legTagsTable, all.tags) },
		func() error { return bulkInsert(ctx, s, t, connectionsTable, all.connections) },
		func() error { return bulkInsert(ctx, s, t, segmentsTable, all.segments) },
		func() error { return bulkInsert(ctx, s, t, queueCallsTable, all.queues) },
		func() error { return bulkInsert(ctx, s, t, conferencesTable, all.conferences) },
		func() error { return bulkInsert(ctx, s, t, participantsTable, all.participants) },
		func() error { return bulkInsert(ctx, s, t, billingTable, all.billing) },
		func() error { return bulkInsert(ctx, s, t, gapsTable, all.gaps) },
	} {
		if err := insert(); err != nil {
			return err
		}
	}
	return s.settle(t.gorm, rows, kids, replaced)
}

// insertCalls inserts new calls rows and sets their PK. PostgreSQL hands
// out the keys first, from the table's sequence, and takes the rows by
// COPY; SQLite and MySQL number them in a multi-row INSERT, and the keys
// are read back by call key (neither promises to report every id of such
// an insert).
func (s *Store) insertCalls(ctx context.Context, t *txn, rows []callRow) error {
	if s.dialect != "postgres" {
		if err := bulkInsert(ctx, s, t, callsTable, rows); err != nil {
			return err
		}
		pks, err := s.lookupPKs(t.gorm, rows)
		if err != nil {
			return err
		}
		for i := range rows {
			pk, ok := pks[callKey{rows[i].Server, rows[i].CallID}]
			if !ok {
				return fmt.Errorf("call %s/%s vanished after insert", rows[i].Server, rows[i].CallID)
			}
			rows[i].PK = pk
		}
		return nil
	}
	q, err := t.sql.QueryContext(ctx, "SELECT nextval(pg_get_serial_sequence($1, 'pk')) FROM generate_series(1, $2)",
		s.table("callRow"), len(rows))
	if err != nil {
		return fmt.Errorf("allocate call keys: %w", err)
	}
	i := 0
	for q.Next() {
		if i == len(rows) {
			break
		}
		if err := q.Scan(&rows[i].PK); err != nil {
			q.Close()
			return fmt.Errorf("allocate call keys: %w", err)
		}
		i++
	}
	q.Close()
	if err := q.Err(); err != nil {
		return fmt.Errorf("allocate call keys: %w", err)
	}
	if i != len(rows) {
		return fmt.Errorf("allocate call keys: %d of %d", i, len(rows))
	}
	n := len(callsTable.columns) + 1
	vals := make([]any, 0, len(rows)*n)
	for i := range rows {
		vals = append(vals, rows[i].PK)
		vals = rows[i].values(vals)
	}
	return copyRows(ctx, t.conn, s.table("callRow"), append([]string{"pk"}, callsTable.columns...), vals, len(rows))
}

func appendWithPK[T any](dst, src []T, set func(*T)) []T {
	for _, r := range src {
		set(&r)
		dst = append(dst, r)
	}
	return dst
}

func insert[T any](tx *gorm.DB, rows []T) error {
	if len(rows) == 0 {
		return nil
	}
	return tx.CreateInBatches(rows, insertChunk).Error
}

// lookupPKs finds the calls rows of rows' keys.
func (s *Store) lookupPKs(tx *gorm.DB, rows []callRow) (map[callKey]uint64, error) {
	ids := make(map[string][]string)
	for _, r := range rows {
		ids[r.Server] = append(ids[r.Server], r.CallID)
	}
	pks := make(map[callKey]uint64, len(rows))
	for server, list := range ids {
		for chunk := range slices.Chunk(list, inChunk) {
			var found []callRow
			err := tx.Select("pk", "server", "call_id").
				Where("server = ? AND call_id IN ?", server, chunk).
				Find(&found).Error
			if err != nil {
				return nil, err
			}
			for _, f := range found {
				pks[callKey{f.Server, f.CallID}] = f.PK
			}
		}
	}
	return pks, nil
}

// Call returns the stored call, or an error wrapping ErrNotFound.
func (s *Store) Call(ctx context.Context, server, id string) (*callgraph.Call, error) {
	var row callRow
	err := s.db.WithContext(ctx).Where("server = ? AND call_id = ?", server, id).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, fmt.Errorf("%w: %s/%s", ErrNotFound, server, id)
	}
	if err != nil {
		return nil, fmt.Errorf("store: call %s/%s: %w", server, id, err)
	}
	calls, err := s.assemble(s.db.WithContext(ctx), []callRow{row})
	if err != nil {
		return nil, fmt.Errorf("store: call %s/%s: %w", server, id, err)
	}
	return calls[0], nil
}

// A Filter selects calls. Zero fields match everything.
type Filter struct {
	// From and To bound the call's start: From ≤ start < To.
	From, To time.Time
	Server   string
	// Account matches a leg's account or a billing record's.
	Account string
	// Party matches any leg's party.
	Party string
	// Queue matches a call that stayed in the queue.
	Queue       string
	Disposition string
	// Cause matches a call with a leg that ended with this Q.850 cause;
	// SIPCode one with a leg that ended with this SIP status. Nil
	// matches every call (0 is a cause: "no cause given").
	Cause, SIPCode *int
	// Text matches a call whose id, or any leg's id, party, channel,
	// caller number or name, dialled number, account or tag value,
	// contains it. Letters match without regard to case (on SQLite only
	// A–Z: its LOWER knows no other letters).
	Text string
	// Limit caps the number of calls (0: no cap); Offset skips the first
	// ones. Calls come ordered by start time.
	Limit, Offset int
}

func (s *Store) where(q *gorm.DB, f Filter) *gorm.DB {
	if !f.From.IsZero() {
		q = q.Where("started_at >= ?", f.From.UTC())
	}
	if !f.To.IsZero() {
		q = q.Where("started_at < ?", f.To.UTC())
	}
	if f.Server != "" {
		q = q.Where("server = ?", f.Server)
	}
	if f.Disposition != "" {
		q = q.Where("disposition = ?", f.Disposition)
	}
	if f.Party != "" {
		q = q.Where("pk IN (SELECT call_pk FROM "+s.table("legRow")+" WHERE party = ?)", f.Party)
	}
	if f.Account != "" {
		q = q.Where("(pk IN (SELECT call_pk FROM "+s.table("legRow")+" WHERE account = ?) OR pk IN (SELECT call_pk FROM "+s.table("billingRecordRow")+" WHERE account = ?))", f.Account, f.Account)
	}
	if f.Queue != "" {
		q = q.Where("pk IN (SELECT call_pk FROM "+s.table("queueCallRow")+" WHERE queue = ?)", f.Queue)
	}
	if f.Cause != nil {
		q = q.Where("pk IN (SELECT call_pk FROM "+s.table("legRow")+" WHERE cause = ?)", *f.Cause)
	}
	if f.SIPCode != nil {
		q = q.Where("pk IN (SELECT call_pk FROM "+s.table("legRow")+" WHERE sip_code = ?)", *f.SIPCode)
	}
	if f.Text != "" {
		q = s.whereText(q, f.Text)
	}
	return q
}

// The columns Filter.Text searches, call's and legs'.
var (
	textCallColumns = []string{"call_id"}
	textLegColumns  = []string{"leg_id", "party", "channel", "caller_num", "caller_name", "dialed", "account"}
)

// whereText selects the calls that contain text in one of the searched
// columns, as a case-blind LIKE with the pattern's own % and _ escaped.
func (s *Store) whereText(q *gorm.DB, text string) *gorm.DB {
	pattern := "%" + likeEscaper.Replace(strings.ToLower(text)) + "%"
	like := func(col string) string { return "LOWER(" + col + ") LIKE ? ESCAPE '!'" }
	var terms, legTerms []string
	var args, legArgs []any
	for _, col := range textCallColumns {
		terms, args = append(terms, like(col)), append(args, pattern)
	}
	for _, col := range textLegColumns {
		legTerms, legArgs = append(legTerms, like(col)), append(legArgs, pattern)
	}
	terms = append(terms, "pk IN (SELECT call_pk FROM "+s.table("legRow")+" WHERE "+strings.Join(legTerms, " OR ")+")")
	args = append(args, legArgs...)
	terms = append(terms, "pk IN (SELECT call_pk FROM "+s.table("legTagRow")+" WHERE "+like("tag_value")+")")
	args = append(args, pattern)
	return q.Where("("+strings.Join(terms, " OR ")+")", args...)
}

// likeEscaper escapes LIKE's wildcards and its escape character, '!'
// (not the backslash, which MySQL reads as an escape in string literals).
var likeEscaper = strings.NewReplacer("!", "!!", "%", "!%", "_", "!_")

// Calls returns the calls f selects, ordered by start time.
func (s *Store) Calls(ctx context.Context, f Filter) ([]*callgraph.Call, error) {
	db := s.db.WithContext(ctx)
	q := s.where(db.Model(&callRow{}), f).Order("started_at, pk")
	if f.Limit > 0 {
		q = q.Limit(f.Limit)
	}
	if f.Offset > 0 {
		if f.Limit <= 0 {
			q = q.Limit(1<<31 - 1) // MySQL has no OFFSET without LIMIT
		}
		q = q.Offset(f.Offset)
	}
	var rows []callRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("store: calls: %w", err)
	}
	calls, err := s.assemble(db, rows)
	if err != nil {
		return nil, fmt.Errorf("store: calls: %w", err)
	}
	return calls, nil
}

// iteratePage is how many calls Iterate holds in memory at once.
const iteratePage = 200

// Iterate yields the calls f selects, ordered by start time, reading
// them a page at a time so that memory stays flat however many there
// are. It stops at the first error, which it yields with a nil call.
func (s *Store) Iterate(ctx context.Context, f Filter) iter.Seq2[*callgraph.Call, error] {
	return s.iterate(s.db.WithContext(ctx), f)
}

// iterate is Iterate on db, which may be a transaction.
func (s *Store) iterate(db *gorm.DB, f Filter) iter.Seq2[*callgraph.Call, error] {
	return func(yield func(*callgraph.Call, error) bool) {
		var (
			lastStart time.Time
			lastPK    uint64
			first     = true
			left      = f.Limit
		)
		for {
			n := iteratePage
			if f.Limit > 0 && left < n {
				n = left
			}
			if n == 0 {
				return
			}
			q := s.where(db.Model(&callRow{}), f).Order("started_at, pk").Limit(n)
			if first && f.Offset > 0 {
				q = q.Offset(f.Offset)
			}
			if !first {
				q = q.Where("(started_at > ? OR (started_at = ? AND pk > ?))", lastStart, lastStart, lastPK)
			}
			var rows []callRow
			if err := q.Find(&rows).Error; err != nil {
				yield(nil, fmt.Errorf("store: iterate: %w", err))
				return
			}
			calls, err := s.assemble(db, rows)
			if err != nil {
				yield(nil, fmt.Errorf("store: iterate: %w", err))
				return
			}
			for _, c := range calls {
				if !yield(c, nil) {
					return
				}
			}
			if len(rows) < n {
				return
			}
			last := rows[len(rows)-1]
			lastStart, lastPK, first = last.StartedAt.UTC(), last.PK, false
			left -= len(rows)
		}
	}
}

// assemble loads the children of rows and rebuilds their calls, in the
// order of rows.
func (s *Store) assemble(db *gorm.DB, rows []callRow) ([]*callgraph.Call, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	pks := make([]uint64, len(rows))
	for i, r := range rows {
		pks[i] = r.PK
	}
	kids := make(map[uint64]*children, len(rows))
	for _, pk := range pks {
		kids[pk] = new(children)
	}
	for _, loadTable := range []func() error{
		func() error {
			return load(db, pks, "call_pk, seq", kids, func(ch *children, r legRow) { ch.legs = append(ch.legs, r) })
		},
		func() error {
			return load(db, pks, "call_pk, leg_seq, tag_key", kids, func(ch *children, r legTagRow) { ch.tags = append(ch.tags, r) })
		},
		func() error {
			return load(db, pks, "call_pk, seq", kids, func(ch *children, r connectionRow) { ch.connections = append(ch.connections, r) })
		},
		func() error {
			return load(db, pks, "call_pk, seq", kids, func(ch *children, r segmentRow) { ch.segments = append(ch.segments, r) })
		},
		func() error {
			return load(db, pks, "call_pk, seq", kids, func(ch *children, r queueCallRow) { ch.queues = append(ch.queues, r) })
		},
		func() error {
			return load(db, pks, "call_pk, seq", kids, func(ch *children, r conferenceRow) { ch.conferences = append(ch.conferences, r) })
		},
		func() error {
			return load(db, pks, "call_pk, conference_seq, seq", kids, func(ch *children, r conferenceParticipantRow) {
				ch.participants = append(ch.participants, r)
			})
		},
		func() error {
			return load(db, pks, "call_pk, seq", kids, func(ch *children, r billingRecordRow) { ch.billing = append(ch.billing, r) })
		},
		func() error {
			return load(db, pks, "call_pk, seq", kids, func(ch *children, r callGapRow) { ch.gaps = append(ch.gaps, r) })
		},
	} {
		if err := loadTable(); err != nil {
			return nil, err
		}
	}
	calls := make([]*callgraph.Call, len(rows))
	for i := range rows {
		c, err := fromRows(&rows[i], kids[rows[i].PK])
		if err != nil {
			return nil, fmt.Errorf("decode call %s/%s: %w", rows[i].Server, rows[i].CallID, err)
		}
		calls[i] = c
	}
	return calls, nil
}

// load reads the rows of one child table that belong to pks and hands
// each to add with its call's children.
func load[T any, P interface {
	*T
	owner() uint64
}](db *gorm.DB, pks []uint64, order string, kids map[uint64]*children, add func(*children, T)) error {
	for chunk := range slices.Chunk(pks, inChunk) {
		var rows []T
		if err := db.Where("call_pk IN ?", chunk).Order(order).Find(&rows).Error; err != nil {
			return err
		}
		for _, r := range rows {
			add(kids[P(&r).owner()], r)
		}
	}
	return nil
}

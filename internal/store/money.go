package store

import (
	"database/sql/driver"
	"fmt"

	"github.com/shopspring/decimal"
	"gorm.io/gorm"
	"gorm.io/gorm/schema"
)

// MoneyDecimals is how many decimal places the money columns keep: as
// many as a rate plan may round to.
const MoneyDecimals = 12

// money is an exact amount in the database's exact decimal type:
// NUMERIC(30,12) in PostgreSQL, DECIMAL(30,12) in MySQL, and in SQLite,
// which has none (a column of NUMERIC affinity turns "0.1" into a
// float), its decimal string in a TEXT column. Money is never a float,
// and calltrail adds amounts up in Go, never in SQL.
type money struct{ decimal.Decimal }

// GormDBDataType implements gorm's per-dialect column type.
func (money) GormDBDataType(db *gorm.DB, _ *schema.Field) string {
	switch db.Dialector.Name() {
	case "postgres":
		return "NUMERIC(30,12)"
	case "mysql":
		return "DECIMAL(30,12)"
	}
	return "TEXT"
}

// Value implements driver.Valuer: the decimal string.
func (m money) Value() (driver.Value, error) { return m.Decimal.String(), nil }

// Scan implements sql.Scanner. Drivers hand NUMERIC and DECIMAL over as
// text; a float would mean a column of the wrong type.
func (m *money) Scan(v any) error {
	switch v := v.(type) {
	case string:
		return m.set(v)
	case []byte:
		return m.set(string(v))
	case int64:
		m.Decimal = decimal.NewFromInt(v)
		return nil
	case nil:
		m.Decimal = decimal.Zero
		return nil
	}
	return fmt.Errorf("money column holds %T, want a decimal string", v)
}

func (m *money) set(s string) error {
	d, err := decimal.NewFromString(s)
	if err != nil {
		return fmt.Errorf("money column holds %q: %w", s, err)
	}
	m.Decimal = d
	return nil
}

// checkAmount refuses an amount the money columns cannot hold exactly.
// Its error has no "store: " prefix: callers add it where it is theirs.
func checkAmount(what string, d decimal.Decimal) error {
	if d.Exponent() < -MoneyDecimals && !d.Equal(d.Truncate(MoneyDecimals)) {
		return fmt.Errorf("%s %s has more than %d decimal places", what, d, MoneyDecimals)
	}
	if d.Abs().GreaterThanOrEqual(decimal.New(1, 30-MoneyDecimals)) {
		return fmt.Errorf("%s %s is too large", what, d)
	}
	return nil
}

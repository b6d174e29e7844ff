package store

import (
	"context"
	"fmt"
)

// DropTables drops every table of the store (with its prefix): for tests
// and for an operator removing a calltrail instance from a shared
// database.
func (s *Store) DropTables(ctx context.Context) error {
	if err := s.db.WithContext(ctx).Migrator().DropTable(models()...); err != nil {
		return fmt.Errorf("store: drop tables: %w", err)
	}
	return nil
}

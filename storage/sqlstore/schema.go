package sqlstore

import (
	"embed"
)

// The DDL of both engines lives side by side so that a schema change is one
// edit in one folder, and TestSchemasMatch can hold the two sets to the
// same versions and tables. The queries in this package are the contract
// both must satisfy.
//
//go:embed schema/sqlite/*.sql schema/mysql/*.sql
var schemaFS embed.FS

// SQLiteMigrations returns the schema migrations for SQLite.
func SQLiteMigrations() ([]Migration, error) { return LoadMigrations(schemaFS, "schema/sqlite") }

// MySQLMigrations returns the schema migrations for MySQL 8 and MariaDB
// 10.6+.
func MySQLMigrations() ([]Migration, error) { return LoadMigrations(schemaFS, "schema/mysql") }

"""The OMS database: schema (SQLModel tables), engine and migrations."""

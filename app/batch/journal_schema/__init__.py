"""Versioned, forward-only schema migrations of the shared (PostgreSQL) journal.

Each migration is a number and the SQL that brings the schema from the previous number to it.
Migrations are never edited once released and never undone: a new need is a new migration.
"""

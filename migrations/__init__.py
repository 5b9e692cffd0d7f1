"""Alembic migrations: the only way Cygnet's schema is created or changed."""

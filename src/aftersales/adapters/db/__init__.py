"""Storage: SQLAlchemy Core tables, engine set-up, repositories and the unit of work."""

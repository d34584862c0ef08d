"""Use cases: one handler per command (load → domain → save → commit), behind ports."""

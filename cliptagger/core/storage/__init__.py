"""Files cliptagger owns or replaces: atomic writes with compare-and-swap, locks, SQLite helpers, where things live."""

"""The store: exams, KOS, exchanges and reports in one SQL database (SQLite or PostgreSQL)."""

from drimlab.store.db import Store, open_store

__all__ = ["Store", "open_store"]

"""SQLite persistence: schema and migrations, the repository, typed records."""

from predarb.store.db import StoreError
from predarb.store.repo import Store

__all__ = ["Store", "StoreError"]

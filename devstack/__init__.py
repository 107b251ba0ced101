"""The embedded stack for one machine: Temporal dev server, SQLite, mail catcher, worker, API."""

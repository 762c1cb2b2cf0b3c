"""The storage layer: every SQL statement (one module per domain module, named after it), the
backend interface they are written against (``backend.py``) and SQLite's implementation of it:
the connection and its transactions, WAL checkpoints, the schema as named migrations.
"""

"""The SQLite backend: the connection and its transactions, WAL checkpoints, the schema as named
migrations.
"""

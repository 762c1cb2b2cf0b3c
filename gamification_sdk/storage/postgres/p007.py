"""Migration p007: a lot may name a transaction of another user.

A transfer belongs to its sender (docs/postgresql.md, "Decisions for the port"): its
transaction row lives on the sender's shard. The points it moves become a lot of the
recipient, on the recipient's shard with their account, and that lot names the sender's
transaction as the one that created it. The key ``(user_id, transaction_id)`` of p002 cannot
hold for such a lot, and Citus cannot enforce a key across shards, so it goes, as
``friends.friend_id``'s did: the ledger writes the lot in the transfer's own transaction.
"""

from __future__ import annotations

__all__ = ["P007"]

P007 = """
ALTER TABLE point_lots DROP CONSTRAINT point_lots_user_id_transaction_id_fkey;
"""

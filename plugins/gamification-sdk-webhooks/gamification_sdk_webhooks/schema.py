"""The plugin's tables on a SQLite file, as its own sqlite-utils migration set, and every
statement on them (``postgres.py`` has the tables on PostgreSQL and the statements whose
text differs there).

The tables live in the engine's database, so every process on the file sees the same
endpoints and secrets. They are made when the first endpoint is added: an engine that never
configures a webhook keeps its file exactly as the core made it.

A trigger on the core's ``notifications`` table queues one delivery per subscribed endpoint in
the transaction that stores the notification. So a notification committed by any process
(with or without this plugin loaded) is queued with it, or not at all, and nothing is sent
from inside that transaction.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import sqlite_utils

__all__ = ["TABLES", "migrations"]

migrations = sqlite_utils.Migrations("gamification-sdk-webhooks")

TABLES = ("webhook_endpoints", "webhook_kinds", "webhook_secrets", "webhook_deliveries")


def _run(db: Any, script: str) -> None:
    # Statement by statement inside the caller's transaction (executescript would commit it);
    # sqlite3.complete_statement keeps the trigger's BEGIN ... END body whole.
    statement = ""
    for piece in script.split(";"):
        statement += piece + ";"
        if sqlite3.complete_statement(statement):
            if statement[:-1].strip():
                db.execute(statement)
            statement = ""


@migrations()
def w001_endpoints_and_deliveries(db: Any) -> None:
    _run(db, _W001)


_W001 = """
CREATE TABLE webhook_endpoints (
    name TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    created_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE webhook_kinds (
    kind TEXT NOT NULL,
    endpoint TEXT NOT NULL REFERENCES webhook_endpoints(name) ON DELETE CASCADE,
    PRIMARY KEY (kind, endpoint)
) WITHOUT ROWID;
CREATE INDEX webhook_kinds_by_endpoint ON webhook_kinds(endpoint);
CREATE TABLE webhook_secrets (
    id INTEGER PRIMARY KEY,
    endpoint TEXT NOT NULL REFERENCES webhook_endpoints(name) ON DELETE CASCADE,
    secret TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT
);
CREATE INDEX webhook_secrets_by_endpoint ON webhook_secrets(endpoint, id);
CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY,
    message_id TEXT NOT NULL UNIQUE,
    endpoint TEXT NOT NULL REFERENCES webhook_endpoints(name) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    user_id TEXT,
    body TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_attempt_at TEXT,
    last_status INTEGER,
    last_error TEXT,
    created_at TEXT NOT NULL,
    delivered_at TEXT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(status, next_attempt_at, id);
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries(endpoint, status);
CREATE INDEX webhook_deliveries_by_user ON webhook_deliveries(user_id);
CREATE TRIGGER webhook_enqueue AFTER INSERT ON notifications
BEGIN
    INSERT INTO webhook_deliveries
        (message_id, endpoint, kind, user_id, body, status, next_attempt_at, created_at)
    SELECT 'msg_' || lower(hex(randomblob(16))), k.endpoint, NEW.kind, NEW.user_id,
        json_object(
            'type', NEW.kind,
            'timestamp', NEW.created_at,
            'data', json_object(
                'notification_id', NEW.id, 'user_id', NEW.user_id, 'kind', NEW.kind,
                'message', NEW.message, 'data', json(NEW.data)
            )
        ),
        'pending', '', NEW.created_at
    FROM webhook_kinds AS k
    WHERE k.kind IN (NEW.kind, '*');
END;
"""

HAS_TABLES = (
    "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'webhook_deliveries'"
)

ENDPOINT = "SELECT name, url, created_at FROM webhook_endpoints WHERE name = ?"
# The endpoint a rotation changes: the file's write lock already keeps rotations apart.
ENDPOINT_LOCKED = ENDPOINT
ENDPOINTS = "SELECT name, url, created_at FROM webhook_endpoints ORDER BY name"
KINDS = "SELECT kind FROM webhook_kinds WHERE endpoint = ? ORDER BY kind"
# Nothing returned: the name was taken since it was looked up (on PostgreSQL, by another
# server's add, which this one waited for): that endpoint decides.
ADD_ENDPOINT = (
    "INSERT INTO webhook_endpoints (name, url, created_at) VALUES (?, ?, ?) "
    "ON CONFLICT (name) DO NOTHING RETURNING name"
)
ADD_KIND = "INSERT INTO webhook_kinds (kind, endpoint) VALUES (?, ?)"
REMOVE_ENDPOINT = "DELETE FROM webhook_endpoints WHERE name = ?"

ADD_SECRET = (
    "INSERT INTO webhook_secrets (endpoint, secret, created_at) VALUES (?, ?, ?) RETURNING id"
)
# Newest first: the first signature a receiver checks is the one made with its newest secret.
ACTIVE_SECRETS = (
    "SELECT secret, expires_at FROM webhook_secrets WHERE endpoint = ? "
    "AND (expires_at IS NULL OR expires_at > ?) ORDER BY id DESC"
)
# Old secrets stay valid until ``expires_at``; one that already expires sooner keeps its time.
RETIRE_SECRETS = (
    "UPDATE webhook_secrets SET expires_at = ? WHERE endpoint = ? AND id <> ? "
    "AND (expires_at IS NULL OR expires_at > ?)"
)
PRUNE_SECRETS = "DELETE FROM webhook_secrets WHERE endpoint = ? AND expires_at <= ?"

_DELIVERY = (
    "SELECT id, message_id, endpoint, kind, user_id, body, status, attempts, "
    "next_attempt_at, last_attempt_at, last_status, last_error, created_at, delivered_at "
    "FROM webhook_deliveries"
)
DELIVERY = _DELIVERY + " WHERE id = ?"
DELIVERIES = _DELIVERY + " WHERE status = ? ORDER BY id LIMIT ?"
ALL_DELIVERIES = _DELIVERY + " ORDER BY id LIMIT ?"
DUE = (
    "SELECT d.id, d.message_id, d.body, d.attempts, d.endpoint, e.url "
    "FROM webhook_deliveries AS d JOIN webhook_endpoints AS e ON e.name = d.endpoint "
    "WHERE d.status = 'pending' AND d.next_attempt_at <= ? "
    "ORDER BY d.next_attempt_at, d.id LIMIT ?"
)
CLAIM = (
    "UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_at = ?, "
    "last_attempt_at = ? WHERE id = ? AND status = 'pending' AND attempts = ?"
)
# Each outcome is recorded only by the worker whose claim is still the row's latest.
DELIVERED = (
    "UPDATE webhook_deliveries SET status = 'delivered', delivered_at = ?, last_status = ?, "
    "last_error = NULL WHERE id = ? AND status = 'pending' AND attempts = ?"
)
RETRY = (
    "UPDATE webhook_deliveries SET next_attempt_at = ?, last_status = ?, last_error = ? "
    "WHERE id = ? AND status = 'pending' AND attempts = ?"
)
DEAD = (
    "UPDATE webhook_deliveries SET status = 'dead', last_status = ?, last_error = ? "
    "WHERE id = ? AND status = 'pending' AND attempts = ?"
)
REPLAY = (
    "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = '' "
    "WHERE id = ? AND status = 'dead'"
)
REPLAY_ALL = (
    "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = '' "
    "WHERE status = 'dead' RETURNING id"
)
COUNTS = "SELECT status, count(*) FROM webhook_deliveries GROUP BY status"
FORGET_USER = "DELETE FROM webhook_deliveries WHERE user_id = ?"
# Other users' notifications may name the user in their data (a referral sign-up).
PSEUDONYMISE = (
    "UPDATE webhook_deliveries SET body = replace(body, json_quote(:user), json_quote(:pseudonym)) "
    "WHERE instr(body, json_quote(:user)) > 0"
)

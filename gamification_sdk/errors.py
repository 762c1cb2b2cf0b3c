"""The exceptions the engine raises. Catch ``GamificationError`` to catch them all."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

__all__ = [
    "BatchAborted", "BattlePassRefused", "Busy", "ConfigError", "ConfigMismatch",
    "CopySourceInvalid", "CopyTargetInUse", "DatabaseUnreachable", "DatabaseUrlInvalid",
    "DriverMissing", "FulfillmentFailed", "GamificationError", "HookError", "IdempotencyConflict",
    "InsufficientFunds", "InvalidInput", "MaxTierReached", "MissingPrivilege", "NoActiveSeason",
    "NoTierReward", "NotEnoughTierBoosts", "NotFound", "NotOnSale", "NotRefundable",
    "NotSpendable", "OutOfStock", "PremiumAlreadyOwned", "PremiumRequired", "PrestigeUnavailable",
    "PurchaseLimitReached", "PurchasePending", "PurchaseRefused", "QuestAlreadyCompleted",
    "QuestExpired", "QuestLocked", "QuestNotVerified", "QuestUnavailable", "RateLimited",
    "ReferralAlreadyConverted", "ReferralRejected", "ReferralUnavailable", "Rejected",
    "ReservationClosed", "ReservationExpired", "RewardAlreadyClaimed", "SchemaMismatch",
    "SchemaOccupied", "SchemaTooNew", "SeasonEnded", "SeasonNotStarted", "ServerTooOld",
    "StaleConfig", "StorageFull", "StoredConfigInvalid", "TierNotReached", "UnknownBoard",
    "UnknownCurrency", "UnknownGroup", "UnknownReferralCode", "UnknownSeason", "UnknownUser",
    "WriteConflict",
]  # fmt: skip


class GamificationError(Exception):
    """Base class of every error this package raises."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())


class InvalidInput(GamificationError, ValueError):
    """An argument was rejected: the message names the argument and the problem."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


class ConfigError(InvalidInput):
    """The configuration or a definition file is invalid; ``problems`` lists every fault."""

    def __init__(self, problems: Sequence[str], source: str | None = None) -> None:
        self.problems = list(problems)
        self.source = source
        where = f"{source}: " if source else ""
        joined = "; ".join(self.problems)
        GamificationError.__init__(self, f"{where}{len(self.problems)} problem(s): {joined}")
        self.field = self.problems[0].split(":", 1)[0] if self.problems else ""
        self.problem = joined


class ConfigMismatch(ConfigError):
    """The configuration given differs from the one stored in the database.

    ``fields`` names each differing field (a dotted path); nothing was written. Open with no
    configuration to adopt the stored one, or change it with ``g.settings.apply()``.
    """

    def __init__(self, changes: Sequence[tuple[str, str]], version: int) -> None:
        self.fields = [path for path, _ in changes]
        self.version = version
        super().__init__(
            [f"{path}: {what}" for path, what in changes],
            f"the configuration differs from the database's stored version {version}",
        )


class StoredConfigInvalid(GamificationError):
    """The configuration stored in the database cannot be read; ``where`` names the row."""

    def __init__(self, where: str, problem: str) -> None:
        self.where = where
        self.problem = problem
        super().__init__(f"{where}: {problem}")


class StaleConfig(GamificationError):
    """Another process changed the stored configuration: this engine has re-read it and
    written nothing of this call. Retry the call."""

    def __init__(self, version: int) -> None:
        self.version = version
        super().__init__(
            f"the stored configuration changed to version {version} since this engine read "
            f"it; the engine now runs on it and nothing of this call was written: retry"
        )


class UnknownUser(GamificationError):
    """No profile exists for this user and auto-create is off."""

    def __init__(self, user_id: str, why: str = "auto_create_profiles is off") -> None:
        self.user_id = user_id
        super().__init__(f"user_id: no profile for {user_id!r} ({why})")


class UnknownCurrency(InvalidInput):
    """The currency is not configured."""

    def __init__(self, currency: object, known: Sequence[str]) -> None:
        self.currency = currency
        super().__init__(
            "currency", f"unknown currency {currency!r}; configured: {', '.join(known)}"
        )


class NotSpendable(InvalidInput):
    """The currency is configured as not spendable."""

    def __init__(self, currency: str) -> None:
        self.currency = currency
        super().__init__("currency", f"{currency!r} is not spendable")


class NotFound(GamificationError, LookupError):
    """The thing asked for does not exist."""

    def __init__(self, what: str, key: object) -> None:
        self.what = what
        self.key = key
        super().__init__(f"{what}: {key!r} not found")


class IdempotencyConflict(GamificationError):
    """This idempotency key was already used with different arguments."""

    def __init__(self, key: str, operation: str, original_operation: str) -> None:
        self.key = key
        self.operation = operation
        self.original_operation = original_operation
        super().__init__(
            f"idempotency_key: {key!r} was first used for {original_operation} with "
            f"different arguments; a retry must repeat the original call exactly"
        )


class Rejected(GamificationError):
    """A plugin vetoed the write; nothing was written."""

    def __init__(self, reason: str, plugin: str | None = None) -> None:
        self.reason = reason
        self.plugin = plugin
        by = f" by plugin {plugin!r}" if plugin else ""
        super().__init__(f"rejected{by}: {reason}")


class Busy(GamificationError):
    """The database stayed locked by another writer past busy_timeout; retry later."""

    retryable = True


class WriteConflict(Busy):
    """Another transaction wrote the same rows at the same time (a serialization failure or
    a deadlock, on PostgreSQL); the write was rolled back and nothing of it stored. Retry:
    every write is idempotent."""


class StorageFull(GamificationError):
    """The database file could not grow (the disk is full, or ``PRAGMA max_page_count`` was
    reached). The whole write was rolled back, nothing of it stored; free space, then retry."""


class BatchAborted(GamificationError):
    """A write failed inside this batch after changing the database; the batch was rolled back."""

    def __init__(self, cause: BaseException) -> None:
        self.cause = cause
        super().__init__(
            f"a write failed inside this batch after changing the database "
            f"({type(cause).__name__}: {cause}); the whole batch was rolled back. Wrap a write "
            f"you expect to fail in its own nested g.batch() to keep the rest"
        )


class InsufficientFunds(GamificationError):
    """The available balance is below the amount required; nothing was written."""

    code = "INSUFFICIENT_POINTS"

    def __init__(self, currency: str, required: int, available: int) -> None:
        self.currency = currency
        self.required = required
        self.available = available
        self.shortfall = required - available
        super().__init__(
            f"amount: you need {self.shortfall:,} more {currency} "
            f"(required {required:,}, available {available:,})"
        )

    def details(self) -> dict[str, Any]:
        """The seed API's error shape: ``{"required", "current", "shortfall"}``."""
        return {"required": self.required, "current": self.available, "shortfall": self.shortfall}


class NotRefundable(InvalidInput):
    """The transaction cannot be refunded (wrong type, wrong user, or nothing left)."""

    def __init__(self, problem: str, field: str = "transaction_id") -> None:
        super().__init__(field, problem)


class ReservationClosed(InvalidInput):
    """The reservation was already committed, released or expired."""

    def __init__(self, reservation_id: int, status: str) -> None:
        self.reservation_id = reservation_id
        self.status = status
        super().__init__("reservation_id", f"reservation {reservation_id} is already {status}")


class ReservationExpired(InvalidInput):
    """The reservation's hold ran out before it was committed."""

    def __init__(self, reservation_id: int, expires_at: str) -> None:
        self.reservation_id = reservation_id
        super().__init__("reservation_id", f"reservation {reservation_id} expired at {expires_at}")


class PrestigeUnavailable(GamificationError):
    """Prestige needs the maximum level; nothing was written."""

    def __init__(self, user_id: str, level: int, max_level: int) -> None:
        self.user_id = user_id
        self.level = level
        self.max_level = max_level
        super().__init__(f"user_id: {user_id!r} is level {level}; prestige needs level {max_level}")


class RateLimited(GamificationError):
    """The user used up this action's rate limit; nothing was written. Retry after ``retry_after``.

    ``limit`` calls are allowed per ``window`` seconds (a sliding window). ``retry_at`` is
    exactly when the oldest counted call leaves the window, so a call then is allowed;
    ``retry_after`` is ``retry_at`` minus the call's time (a ``timedelta``, always > 0) and
    ``retry_after_seconds`` the same rounded up to whole seconds, for a ``Retry-After`` header.
    """

    retryable = True

    def __init__(
        self,
        action: str,
        user_id: str,
        limit: int,
        window: int,
        retry_at: datetime,
        retry_after: timedelta,
    ) -> None:
        self.action = action
        self.user_id = user_id
        self.limit = limit
        self.window = window
        self.retry_at = retry_at
        self.retry_after = retry_after
        super().__init__(
            f"action: {action!r} allows {limit} per {window}s and {user_id!r} used them all; "
            f"retry after {retry_after.total_seconds():g}s (at {retry_at.isoformat()})"
        )

    @property
    def retry_after_seconds(self) -> int:
        """``retry_after`` in whole seconds, rounded up (at least 1)."""
        return max(1, -(-self.retry_after // timedelta(seconds=1)))


class HookError(GamificationError):
    """One or more after-commit hooks raised; the write itself was committed."""

    def __init__(self, errors: Sequence[tuple[str, BaseException]], result: object) -> None:
        self.errors = list(errors)
        self.result = result
        names = ", ".join(f"{hook}: {exc!r}" for hook, exc in self.errors)
        super().__init__(f"after-commit hook(s) failed (the write was committed): {names}")


class QuestUnavailable(GamificationError):
    """The quest cannot be completed now; ``reason`` says why and nothing was written."""

    def __init__(self, quest: str, reason: str) -> None:
        self.quest = quest
        self.reason = reason
        super().__init__(f"quest_key: {quest!r} {reason}")


class QuestLocked(QuestUnavailable):
    """The user has not opened the quest yet (level, achievement or chain)."""


class QuestExpired(QuestUnavailable):
    """The quest's availability window is over."""


class QuestAlreadyCompleted(QuestUnavailable):
    """The quest reached its maximum completions for this period."""


class QuestNotVerified(QuestUnavailable):
    """The verify_quest hook (or, with none answering, the tracked progress) refused it."""


class UnknownBoard(InvalidInput):
    """No leaderboard is configured under this key."""

    def __init__(self, board: object, known: Sequence[str]) -> None:
        self.board = board
        super().__init__("board", f"unknown board {board!r}; configured: {', '.join(known)}")


class UnknownGroup(InvalidInput):
    """No user has joined a group of this name."""

    def __init__(self, group: object) -> None:
        self.group = group
        super().__init__("group", f"unknown group {group!r}; users make one by joining it")


class UnknownReferralCode(NotFound):
    """No user has this referral code; nothing was written."""

    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__("code", code)


class ReferralRejected(GamificationError):
    """An anti-fraud rule or a ``check_referral`` plugin flagged the referral: it was stored
    flagged with ``reason`` (as ``referral_id``) and paid nothing."""

    def __init__(self, reason: str, referral_id: int) -> None:
        self.reason = reason
        self.referral_id = referral_id
        super().__init__(
            f"referral rejected: {reason} (stored as flagged referral {referral_id}, nothing paid)"
        )


class ReferralUnavailable(GamificationError):
    """The referral's status does not allow this; ``reason`` says why and nothing was written."""

    def __init__(self, referral_id: int, status: str, reason: str) -> None:
        self.referral_id = referral_id
        self.status = status
        self.reason = reason
        super().__init__(f"referral: {referral_id} ({status}) {reason}")


class ReferralAlreadyConverted(ReferralUnavailable):
    """The referral converted before: a conversion pays once; nothing was written."""


class PurchaseRefused(GamificationError):
    """The shop refused the purchase; ``reason`` says why and nothing was written."""

    def __init__(self, item: str, reason: str) -> None:
        self.item = item
        self.reason = reason
        super().__init__(f"item_key: {item!r} {reason}")


class OutOfStock(PurchaseRefused):
    """Fewer units of the item are left in stock than were asked for."""


class NotOnSale(PurchaseRefused):
    """The item is outside its availability window."""


class PurchaseLimitReached(PurchaseRefused):
    """The user would hold more of the item than its per-user limit (or owns the title)."""


class FulfillmentFailed(GamificationError):
    """The fulfill_order hook raised or refused; the hold was released and nothing was charged.

    ``order_id`` is the failed order (None if no plugin fulfils external goods, and then
    nothing was written); ``reason`` says what went wrong.
    """

    def __init__(self, order_id: int | None, item: str, reason: str) -> None:
        self.order_id = order_id
        self.item = item
        self.reason = reason
        which = f"order {order_id}" if order_id is not None else "the purchase"
        super().__init__(f"item_key: {which} of {item!r} was not fulfilled: {reason}")


class PurchasePending(GamificationError):
    """A purchase with this idempotency key is still being fulfilled; retry shortly.

    It finishes when its ``fulfill_order`` call returns, or when its hold expires (the
    ``expire_reservations`` job then closes it and the key may be used afresh).
    """

    retryable = True

    def __init__(self, order_id: int) -> None:
        self.order_id = order_id
        super().__init__(f"order_id: order {order_id} is still being fulfilled; retry shortly")


class UnknownSeason(NotFound):
    """No season with a battle pass has this key; nothing was written."""

    def __init__(self, season: str) -> None:
        self.season = season
        super().__init__("season", season)


class BattlePassRefused(GamificationError):
    """The battle pass refused the call; nothing was written.

    Each subclass's docstring is its message; ``season``, ``tier`` and ``track`` say where
    (None where they do not apply).
    """

    def __init__(
        self, season: str | None, *, tier: int | None = None, track: str | None = None
    ) -> None:
        self.season = season
        self.tier = tier
        self.track = track
        where = [f"season {season!r}"] if season is not None else []
        if tier is not None:
            where.append(f"tier {tier}")
        if track is not None:
            where.append(f"{track} track")
        message = (self.__doc__ or "").strip()
        super().__init__(f"{message} ({', '.join(where)})" if where else message)


class NoActiveSeason(BattlePassRefused):
    """No season with a battle pass is active now; nothing was written."""


class SeasonNotStarted(BattlePassRefused):
    """The season has not started yet; nothing was written."""


class SeasonEnded(BattlePassRefused):
    """The season has ended: no more claims, purchases or boosts; nothing was written."""


class NoTierReward(BattlePassRefused):
    """This tier has no reward on this track; nothing was written."""


class TierNotReached(BattlePassRefused):
    """The user has not reached this tier yet; nothing was written."""


class PremiumRequired(BattlePassRefused):
    """Premium track rewards need the season's premium pass; nothing was written."""


class RewardAlreadyClaimed(BattlePassRefused):
    """This tier reward was already claimed (or granted at season end); nothing was written."""


class PremiumAlreadyOwned(BattlePassRefused):
    """The user already owns this season's premium pass; nothing was written or charged."""


class NotEnoughTierBoosts(BattlePassRefused):
    """The user holds fewer tier_boost items than asked to use; nothing was written."""


class MaxTierReached(BattlePassRefused):
    """The tier boosts would go past the season's last tier; nothing was written."""


class DatabaseUrlInvalid(InvalidInput):
    """The database URL cannot be used: the message says what is wrong with it."""

    def __init__(self, problem: str) -> None:
        super().__init__("url", problem)


class DatabaseUnreachable(GamificationError):
    """The database server could not be reached or refused the connection; nothing was
    written. Check the host, port, credentials and that the server runs, then retry."""

    retryable = True


class SchemaTooNew(GamificationError):
    """The database was migrated by a newer version of gamification-sdk; this one would not
    know its tables. Nothing was written: upgrade the package (``.migrations`` names them)."""

    def __init__(self, where: str, migrations: Sequence[str]) -> None:
        self.migrations = list(migrations)
        super().__init__(
            f"schema: {where} has migrations this version does not know "
            f"({', '.join(self.migrations)}): it was upgraded by a newer gamification-sdk; "
            f"upgrade this one too"
        )


class ServerTooOld(GamificationError):
    """The database server is older than this engine supports; nothing was written."""

    def __init__(self, found: str, needed: str) -> None:
        self.found = found
        self.needed = needed
        super().__init__(f"server: PostgreSQL {found} found; {needed} or later is needed")


class MissingPrivilege(GamificationError):
    """The database role lacks a right the engine needs; nothing was written.

    ``privilege`` names the right and ``on`` what it is on (``DATABASE app``, ``SCHEMA
    gamification``).
    """

    def __init__(self, role: str, privilege: str, on: str, why: str) -> None:
        self.role = role
        self.privilege = privilege
        self.on = on
        super().__init__(
            f"privileges: role {role!r} lacks {privilege} on {on}, needed {why}; an owner "
            f"can grant it (GRANT {privilege} ON {on} TO {role}), or create the schema first"
        )


class SchemaOccupied(GamificationError):
    """The schema already holds another application's tables; nothing was written there.
    Choose another schema (``schema=``) or empty this one."""

    def __init__(self, schema: str, tables: Sequence[str]) -> None:
        self.schema = schema
        self.tables = list(tables)
        shown = ", ".join(self.tables[:5]) + (", ..." if len(self.tables) > 5 else "")
        super().__init__(
            f"schema: {schema!r} already holds tables this engine did not create ({shown}); "
            f"give the engine a schema of its own (schema=...) or empty this one"
        )


class DriverMissing(GamificationError, ImportError):
    """The PostgreSQL driver is not installed: ``pip install 'gamification-sdk[postgres]'``
    (psycopg 3 and psycopg-pool)."""


class CopySourceInvalid(InvalidInput):
    """The SQLite file to copy cannot be copied (missing, not SQLite, not an engine's database,
    not migrated to this version, or a row PostgreSQL refuses); nothing was written."""

    def __init__(self, problem: str) -> None:
        super().__init__("source", problem)


class SchemaMismatch(GamificationError):
    """The SQLite file and the PostgreSQL schema do not have the same tables and columns, so a
    copy would lose or invent data; nothing was written. ``.differences`` names each one."""

    def __init__(self, differences: Sequence[str]) -> None:
        self.differences = list(differences)
        super().__init__(
            "schema: the file and the PostgreSQL schema differ: " + "; ".join(self.differences)
        )


class CopyTargetInUse(GamificationError):
    """The PostgreSQL schema already holds engine data that did not come from this file (or a
    copy of another file, or another copy is running); nothing was written. Copy into an empty
    schema (``--schema``), or drop this one if its data can go."""

    def __init__(self, schema: str, why: str) -> None:
        self.schema = schema
        super().__init__(f"schema: {schema!r} {why}; copy into an empty schema or drop this one")

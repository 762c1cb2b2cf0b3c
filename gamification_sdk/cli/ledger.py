"""Points: awarding them and reading a user's transactions."""

from __future__ import annotations

import click

from ..models import HistoryPage, Transaction
from .options import at_option, key_option, parse_at, parse_json
from .output import emit, table
from .state import State, pass_state

__all__ = ["award_points", "history"]


@click.command("award-points")
@click.argument("user_id", metavar="USER")
@click.argument("amount", type=int)
@click.option("--currency", help="Which currency; default: the first configured one.")
@click.option("--source", default="cli", show_default=True, help="What earned them.")
@click.option("--description", help="A note stored on the transaction.")
@click.option("--metadata", metavar="JSON", help="Anything JSON to store with the award.")
@click.option(
    "--expires-at",
    metavar="TIME",
    help="When these points expire, instead of the currency's rule (ISO-8601 with a zone).",
)
@key_option
@at_option()
@pass_state
def award_points(
    state: State,
    user_id: str,
    amount: int,
    currency: str | None,
    source: str,
    description: str | None,
    metadata: str | None,
    expires_at: str | None,
    key: str | None,
    at: str | None,
) -> None:
    """Award points to a user.

    A double-entry ledger transaction; prints the balance before and after.
    """
    meta = parse_json(metadata, "--metadata")
    expiry = parse_at(expires_at, "--expires-at")
    moment = parse_at(at)
    g = state.engine()
    result = g.award_points(
        user_id,
        amount,
        currency=currency or g.config.currency_names[0],
        source=source,
        idempotency_key=key,
        description=description,
        metadata=meta,
        at=moment,
        expires_at=expiry,
    )
    emit(state.as_json, result, lambda: _transaction_text(result))


def _transaction_text(t: Transaction) -> str:
    return (
        f"{t.user_id}: +{t.amount} {t.currency}, balance {t.balance_before} -> "
        f"{t.balance_after} (transaction {t.id})"
    )


@click.command()
@click.argument("user_id", metavar="USER")
@click.option("--currency", help="Only this currency.")
@click.option("--limit", type=int, default=20, show_default=True, help="Up to 1000.")
@click.option("--before", type=int, metavar="ID", help="Older than this transaction id.")
@pass_state
def history(
    state: State, user_id: str, currency: str | None, limit: int, before: int | None
) -> None:
    """Show a user's points transactions.

    Newest first, with earned, spent and net per currency. USER must exist.
    """
    state.require_user(user_id)
    page = state.engine().history(user_id, currency=currency, limit=limit, before=before)
    emit(state.as_json, page, lambda: _history_text(page))


def _history_text(page: HistoryPage) -> str:
    if not page.transactions:
        return "no transactions"
    rows = [
        (
            t.id,
            t.created_at,
            t.type,
            f"{t.balance_after - t.balance_before:+}",
            t.currency,
            t.balance_after,
            t.source,
            t.description,
        )
        for t in page.transactions
    ]
    headers = ("id", "at", "type", "amount", "currency", "balance", "source", "note")
    out = [table(headers, rows, right=("amount",))]
    totals = [(name, s.earned, s.spent, s.net) for name, s in page.totals.items()]
    if totals:
        out += ["", table(("currency", "earned", "spent", "net"), totals)]
    if page.next_before is not None:
        out += ["", f"more: --before {page.next_before}"]
    return "\n".join(out)

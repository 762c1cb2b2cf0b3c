"""Privacy requests: export everything about a user, or erase them."""

from __future__ import annotations

import json

import click

from ..models import UserDeletion
from .options import at_option, key_option, parse_at
from .output import emit, fmt
from .state import State, pass_state

__all__ = ["delete_user", "export_user"]


@click.command("export-user")
@click.argument("user_id", metavar="USER")
@click.option("-o", "--output", metavar="FILE", help="Write the export here, not to stdout.")
@pass_state
def export_user(state: State, user_id: str, output: str | None) -> None:
    """Export every row about a user as JSON.

    A data-access request: {"user_id", "exported_at", "tables": {table: [rows]}}. USER must
    exist. With -o the file is written and a summary printed.
    """
    state.require_user(user_id)
    export = state.engine().privacy.export(user_id)
    text = json.dumps(export, indent=2, ensure_ascii=False, default=str)
    if output is None:
        click.echo(text)
        return
    with open(output, "w", encoding="utf-8") as file:
        file.write(text + "\n")
    rows = {table: len(found) for table, found in export["tables"].items() if found}
    summary = {"user_id": user_id, "file": output, "rows": rows}
    emit(
        state.as_json,
        summary,
        lambda: f"wrote {sum(rows.values())} row(s) about {user_id} to {output}",
    )


@click.command("delete-user")
@click.argument("user_id", metavar="USER")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@key_option
@at_option()
@pass_state
def delete_user(state: State, user_id: str, yes: bool, key: str | None, at: str | None) -> None:
    """Erase a user (asks first unless --yes).

    Balances are forfeited, ledger and referral history anonymised under a random pseudonym,
    every other row about USER deleted; the ledger still balances. A retry with the same
    --key returns the same result.
    """
    moment = parse_at(at)
    exists = state.user_exists(user_id)
    # Without a profile there is no one to ask about: a keyed retry replays the first
    # deletion (the engine refuses an unknown key with UnknownUser, writing nothing).
    if not exists and key is None:
        state.require_user(user_id)
    if exists and not yes:
        click.confirm(
            f"Erase {user_id!r} from {state.db}? This cannot be undone", abort=True, err=True
        )
    deletion = state.engine().privacy.delete(user_id, idempotency_key=key, at=moment)
    emit(state.as_json, deletion, lambda: _deletion_text(deletion))


def _deletion_text(d: UserDeletion) -> str:
    rows = sum(d.rows_deleted.values())
    forfeited = f", forfeited {fmt(d.forfeited)}" if d.forfeited else ""
    return (
        f"erased {d.user_id}: {rows} row(s) deleted, {d.entries_anonymised} ledger "
        f"entr{'y' if d.entries_anonymised == 1 else 'ies'} anonymised as {d.pseudonym}"
        f"{forfeited}"
    )

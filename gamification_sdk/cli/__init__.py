"""The ``gamification`` command line: the ``cli`` group, its global options and ``main()``.

Commands live in the modules next to this one. A command from elsewhere joins with one line,
``cli.add_command(command)``; it gets the global options' ``State`` with ``@pass_state`` (or
``click.get_current_context().find_object(State)``), and its ``GamificationError``s, missing
files and a busy database become one ``error:`` line and an exit code like any other's. An
installed plugin adds commands through the ``register_commands`` hook: they are collected the
first time a command is looked up, unless ``--no-plugins`` is given.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click
import pluggy

from ..errors import ConfigError
from ..runtime.plugins import get_plugin_manager
from ..simulator.command import simulate
from .admin import init, load, reevaluate, run_jobs, verify
from .boards import leaderboard
from .ledger import award_points, history
from .migrate import migrate
from .output import (
    BUSY,
    OK,
    PROBLEMS,
    USAGE,
    USER_ERROR,
    BusyError,
    CliError,
    emit,
    table,
    translate_errors,
)  # fmt: skip
from .privacy import delete_user, export_user
from .settings import config
from .state import State, pass_state
from .users import award_xp, profile, track

__all__ = [
    "BUSY",
    "OK",
    "PROBLEMS",
    "USAGE",
    "USER_ERROR",
    "BusyError",
    "CliError",
    "State",
    "cli",
    "emit",
    "main",
    "pass_state",
    "plugin_commands",
    "table",
]

EXIT_CODES = f"""\b
Exit codes:
  {OK}  success
  {USER_ERROR}  user error: a bad value, a missing or unreadable file, a bad path,
     bad JSON or TOML, an unknown user; one line on stderr says what
  {USAGE}  usage error: an unknown command or option, a missing argument
  {BUSY}  database busy: locked by another writer past busy_timeout, or the
     scheduler lease is held (run-jobs); retry
  {PROBLEMS}  verify found problems in the ledger, or migrate found the file
     and its PostgreSQL copy differ
"""


def plugin_commands(pm: pluggy.PluginManager, taken: set[str]) -> list[click.Command]:
    """The commands plugins offer through ``register_commands``; ``ConfigError`` when one is
    not a click command or its name is in ``taken`` or offered twice."""
    found: dict[str, click.Command] = {}

    def register(command: object) -> None:
        if not isinstance(command, click.Command) or not command.name:
            raise ConfigError(
                [f"register_commands: expected a named click command, got {command!r}"]
            )
        if command.name in taken or command.name in found:
            raise ConfigError([f"register_commands: the command {command.name!r} already exists"])
        found[command.name] = command

    pm.hook.register_commands(register=register)
    return list(found.values())


class Group(click.Group):
    """Lists commands in the order they were added, and turns user errors into exit codes."""

    # The plugins' commands, collected once per process, kept apart from the built-in ones
    # so that ``--no-plugins`` hides them in every invocation.
    _from_plugins: dict[str, click.Command] | None = None

    def _plugin_commands(self, ctx: click.Context) -> dict[str, click.Command]:
        if not ctx.params.get("plugins", True):
            return {}
        if self._from_plugins is None:
            found = plugin_commands(get_plugin_manager(), set(self.commands))
            self._from_plugins = {str(command.name): command for command in found}
        return self._from_plugins

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*self.commands, *self._plugin_commands(ctx)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        return self._plugin_commands(ctx).get(cmd_name)

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        """Register ``cmd``; this package's commands also take ``--json`` after their name.

        A command from elsewhere is left as it is: it reads ``State.as_json`` (the global
        ``--json``) or has its own option.
        """
        module = getattr(cmd.callback, "__module__", "")
        if module.startswith(f"{__name__}.") and not any(
            "--json" in getattr(p, "opts", ()) for p in cmd.params
        ):
            cmd.params.append(
                click.Option(
                    ["--json"],
                    is_flag=True,
                    expose_value=False,
                    callback=_json_flag,
                    help="Print one JSON document on stdout (as the global --json).",
                )
            )
        super().add_command(cmd, name)

    def invoke(self, ctx: click.Context) -> Any:
        with translate_errors():
            return super().invoke(ctx)


def _json_flag(ctx: click.Context, _: click.Parameter, value: bool) -> None:
    state = ctx.find_object(State)
    if value and state is not None:
        state.as_json = True


@click.group(
    cls=Group,
    epilog=EXIT_CODES,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--db",
    default="game.db",
    show_default=True,
    envvar="GAMIFICATION_DB",
    show_envvar=True,
    metavar="PATH",
    help="The database file; only `init` creates it.",
)
@click.option(
    "--config",
    "config_path",
    envvar="GAMIFICATION_CONFIG",
    show_envvar=True,
    metavar="FILE",
    help="Engine configuration (TOML or JSON, as Config.from_file reads); default: the one "
    "stored in the database (built-in for a new one).",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON document on stdout, not tables."
)
@click.option(
    "--plugins/--no-plugins",
    default=True,
    help="Load the plugins installed through entry points.  [default: plugins]",
)
@click.version_option(package_name="gamification-sdk", prog_name="gamification")
@click.pass_context
def cli(ctx: click.Context, db: str, config_path: str | None, as_json: bool, plugins: bool) -> None:
    """Look after a gamification database from the shell: award, track, read, audit."""
    state = State(db, config_path, as_json, plugins)
    ctx.obj = state
    ctx.call_on_close(state.close)


for _command in (
    init, load, award_xp, award_points, track, profile, history, leaderboard, verify,
    reevaluate, run_jobs, export_user, delete_user, config, simulate, migrate,
):  # fmt: skip
    cli.add_command(_command)


def main(argv: Sequence[str] | None = None) -> None:
    """The ``gamification`` console script."""
    cli.main(args=argv, prog_name="gamification")

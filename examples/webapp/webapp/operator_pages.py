"""The operator's screens: load a definitions file, the stored configuration, the ledger
audit and the economy overview.

A definitions file is loaded whole or not at all (``g.events.load``): when the SDK's loader
refuses it, every problem it lists (each a path into the file, such as
``achievements[0].criteria.target``, and what is wrong there) is shown beside the file field
and in a list tying each path to its message; nothing is written.
"""

from __future__ import annotations

import json
import tomllib
from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from gamification_sdk import errors

from .forms import engine
from .overview import chart_svg, overview

__all__ = ["operator"]

operator = Blueprint("operator", __name__, url_prefix="/operator")

CHARTS = ("points", "levels", "unlocks")


def _split(problem: str, source: str | None) -> tuple[str, str]:
    """``set.toml: rules[0].xp: expected int`` -> (``rules[0].xp``, ``expected int``)."""
    if source and problem.startswith(f"{source}: "):
        problem = problem[len(source) + 2 :]
    path, sep, message = problem.partition(": ")
    return (path, message) if sep else ("file", problem)


def _parse(name: str, raw: bytes) -> dict[str, Any]:
    """The uploaded file as a mapping: TOML, or JSON for a ``.json`` name."""
    try:
        text = raw.decode("utf-8")
        data = json.loads(text) if name.endswith(".json") else tomllib.loads(text)
    except (UnicodeDecodeError, ValueError) as exc:  # TOMLDecodeError is a ValueError
        raise errors.ConfigError([f"file: not valid {_kind(name)}: {exc}"], name) from None
    if not isinstance(data, dict):
        raise errors.ConfigError([f"file: expected a table at the top of the {_kind(name)}"])
    return data


def _kind(name: str) -> str:
    return "JSON" if name.endswith(".json") else "TOML"


@operator.get("/")
def home() -> str:
    return render_template("operator/home.html")


@operator.route("/definitions", methods=["GET", "POST"])
def definitions() -> BaseResponse | str | tuple[str, int]:
    if request.method == "GET":
        return render_template("operator/definitions.html", problems=[], name="")
    upload = request.files.get("file")
    typed = (request.form.get("name") or "").strip()
    source = typed or (upload.filename if upload else None) or "the file"
    try:
        if upload is None or not upload.filename:
            raise errors.ConfigError(["file: choose a TOML or JSON definitions file"])
        data = _parse(upload.filename, upload.read())
        report = engine().events.load(data, name=typed or upload.filename)
    except errors.ConfigError as exc:
        problems = [_split(p, exc.source) for p in exc.problems]
    except errors.InvalidInput as exc:
        problems = [(exc.field, exc.problem)]
    else:
        summary = ", ".join(
            f"{len(keys)} {what}"
            for what, keys in (("added", report.added), ("updated", report.updated),
                               ("retired", report.retired), ("unchanged", report.unchanged))
        )  # fmt: skip
        flash(f"Loaded {report.source}: {summary}.", "xp")
        return redirect(url_for("operator.definitions"))
    page = render_template("operator/definitions.html", problems=problems, name=typed,
                           source=source)  # fmt: skip
    return page, 422


@operator.get("/config")
def config() -> str:
    g = engine()
    text = json.dumps(g.config.to_dict(), indent=2, sort_keys=True, default=str)
    return render_template("operator/config.html", version=g.settings.version,
                           history=g.settings.history(), text=text)  # fmt: skip


@operator.get("/ledger")
def ledger() -> str:
    return render_template("operator/ledger.html", report=engine().verify_ledger())


@operator.get("/economy")
def economy() -> str:
    return render_template("operator/economy.html", data=overview(engine()), charts=CHARTS)


@operator.get("/economy/<which>.svg")
def chart(which: str) -> Response:
    if which not in CHARTS:
        abort(404)
    return Response(chart_svg(overview(engine()), which), mimetype="image/svg+xml")

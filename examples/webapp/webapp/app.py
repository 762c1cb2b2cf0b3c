"""``create_app``: seed 002's gamification API over one SDK engine, as a Flask app.

One engine serves every request thread (the SDK is thread-safe). Every write takes an
idempotency key, from the ``Idempotency-Key`` header or the body's ``idempotencyKey`` (seed
002's field), and hands it to the SDK: a retry with the same key and body replays the original
result and writes nothing. Errors leave in seed 002's shape (see ``errors.py``).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import cast

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from gamification_sdk import Gamification, errors

from .catalogue import open_engine
from .errors import ApiError, describe
from .operator_pages import operator
from .pages import pages
from .routes import API_PREFIX, api
from .unlocks import UnlockCollector

__all__ = ["API_PREFIX", "create_app"]

log = logging.getLogger(__name__)


def create_app(engine_or_path: Gamification | str | Path) -> Flask:
    """The app over an open engine (configured with ``catalogue.open_engine``'s config and
    definitions), or over a database path, which it opens that way."""
    if isinstance(engine_or_path, Gamification):
        engine = engine_or_path
    else:
        engine = open_engine(engine_or_path)
    collector = UnlockCollector()
    engine.pm.register(collector)
    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["gamification"] = engine
    app.extensions["gamification.unlocks"] = collector
    # The HTML screens' toasts ride in the signed session cookie; a fresh key per process
    # suits a demo (a real host sets its own, shared by its workers).
    app.secret_key = os.environ.get("WEBAPP_SECRET_KEY") or os.urandom(32)
    app.register_blueprint(api)
    app.register_blueprint(pages)
    app.register_blueprint(operator)
    app.register_error_handler(ApiError, _error)
    app.register_error_handler(errors.GamificationError, _error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
    return app


# -- errors in seed 002's shape ----------------------------------------------------------


def _screen() -> bool:
    """A request for an HTML screen rather than the JSON API: its errors are pages."""
    return not request.path.startswith(API_PREFIX)


def _page(status: int, message: str) -> tuple[Response, int]:
    return Response(render_template("message.html", user=None, message=message)), status


def _error(exc: Exception) -> tuple[Response, int, dict[str, str]]:
    status, body, headers = describe(cast(ApiError | errors.GamificationError, exc))
    if _screen():
        return (*_page(status, str(exc)), headers)
    return jsonify(body), status, headers


def _http_error(exc: HTTPException) -> tuple[Response, int]:
    if _screen():
        return _page(exc.code or 500, f"{exc.code} {exc.name}: {exc.description}")
    code = (exc.name or "error").upper().replace(" ", "_")
    body = {"success": False, "error": {"code": code, "message": exc.description}}
    return jsonify(body), exc.code or 500


def _unexpected(exc: Exception) -> tuple[Response, int]:
    log.exception("unhandled error in %s %s", request.method, request.path)
    if _screen():
        return _page(500, "Something went wrong on our side; nothing was written twice.")
    body = {"success": False, "error": {"code": "INTERNAL_ERROR", "message": "internal error"}}
    return jsonify(body), 500

"""A webhook receiver on 127.0.0.1 for the tests, and a signature check written from the
Standard Webhooks specification (not from the plugin's code)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import attrs


@attrs.define
class Received:
    headers: dict[str, str]
    body: str


class Receiver:
    """Answers each POST as the next planned reply: an HTTP status, "hang" (answers only once
    ``release`` is set, after the sender's timeout) or "hold" (sets ``arrived`` and waits for
    ``release``); 200 once the plan runs out. ``answer`` (given the request and how many
    came before it under its ``webhook-id``) replaces the plan; ``pause`` holds each answer
    that many seconds, and ``overlaps`` lists the ids posted again while one was still open."""

    def __init__(self) -> None:
        self.plan: list[int | str] = []
        self.answer: Callable[[Received, int], int] | None = None
        self.pause = 0.0
        self.overlaps: list[str] = []
        self.received: list[Received] = []
        self._open: set[str] = set()
        self.arrived = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length).decode()
                got = Received({k.lower(): v for k, v in self.headers.items()}, body)
                message_id = got.headers.get("webhook-id", "")
                with receiver._lock:
                    before = sum(r.headers.get("webhook-id") == message_id
                                 for r in receiver.received)  # fmt: skip
                    receiver.received.append(got)
                    if message_id in receiver._open:
                        receiver.overlaps.append(message_id)
                    receiver._open.add(message_id)
                    if receiver.answer is not None:
                        reply: int | str = receiver.answer(got, before)
                    else:
                        reply = receiver.plan.pop(0) if receiver.plan else 200
                if reply in ("hang", "hold"):
                    receiver.arrived.set()
                    receiver.release.wait(10)
                    reply = 200
                time.sleep(receiver.pause)
                with receiver._lock:
                    receiver._open.discard(message_id)
                self.send_response(int(reply))
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def ids(self) -> list[str]:
        return [r.headers["webhook-id"] for r in self.received]


@contextmanager
def receiving() -> Iterator[Receiver]:
    receiver = Receiver()
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.release.set()
        receiver.server.shutdown()
        receiver.server.server_close()
        thread.join(5)


def verify(secret: str, headers: dict[str, str], body: str, now: int, tolerance: int = 300) -> bool:
    """Whether ``headers`` carry a valid signature of ``body`` by ``secret``, per the spec:
    ``whsec_`` + base64 key; HMAC-SHA256 over ``{id}.{timestamp}.{body}``; the header holds
    space-separated ``v1,<base64>`` signatures, any one of which may match; the timestamp must
    be within ``tolerance`` seconds of ``now``."""
    message_id = headers["webhook-id"]
    timestamp = headers["webhook-timestamp"]
    if abs(now - int(timestamp)) > tolerance:
        return False
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{timestamp}.{body}".encode()
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    for candidate in headers["webhook-signature"].split(" "):
        version, _, signature = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(signature, expected):
            return True
    return False

"""``./run web``: a fresh demo database, then the API on http://127.0.0.1:5000 until Ctrl-C."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from . import API_PREFIX, create_app, open_engine, seed_demo
from .demo import USERS


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="./run web", description=__doc__)
    parser.add_argument("--db", default="webapp-demo.db", help="database file, made afresh")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for suffix in ("", "-wal", "-shm"):
        Path(args.db + suffix).unlink(missing_ok=True)
    engine = open_engine(args.db)
    try:
        seed_demo(engine)
        # Holds of unfinished purchases expire, boards and seasons close, in the background.
        engine.start_scheduler()
        app = create_app(engine)
        print(f"Demo database {args.db}: users {', '.join(USERS)}")
        print(f"API: http://{args.host}:{args.port}{API_PREFIX}/profile/sean")
        app.run(host=args.host, port=args.port, threaded=True)
    finally:
        engine.close()


if __name__ == "__main__":
    main()

"""``./run web``: a fresh demo database, then the API and the screens on http://127.0.0.1:5000
until Ctrl-C."""

from __future__ import annotations

import argparse
import logging

from . import API_PREFIX, create_app
from .demo import USERS, fresh_demo


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="./run web", description=__doc__)
    parser.add_argument("--db", default="webapp-demo.db", help="database file, made afresh")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    engine = fresh_demo(args.db)
    try:
        # Requests, and the notifications the example plugin logs when it is installed (./run
        # installs it); the engine's own INFO lines (jobs, the event-log plugin) stay quiet.
        for name in ("werkzeug", "gamification_example_plugin"):
            logging.getLogger(name).setLevel(logging.INFO)
        # Holds of unfinished purchases expire, boards and seasons close, in the background.
        engine.jobs.start()
        app = create_app(engine)
        print(f"Demo database {args.db}: users {', '.join(USERS)}")
        print(f"Screens: http://{args.host}:{args.port}/ (the operator's: /operator/)")
        print(f"Try: curl http://{args.host}:{args.port}{API_PREFIX}/profile/sean")
        app.run(host=args.host, port=args.port, threaded=True)
    finally:
        engine.close()


if __name__ == "__main__":
    main()

"""A few seed 002 users with some history, so every endpoint has something to show."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from gamification_sdk import Gamification

from .catalogue import CURRENCY, open_engine

__all__ = ["GYM", "USERS", "fresh_demo", "seed_demo"]

GYM = "swan-downtown"

# user id -> (leaderboard name, days trained, workouts a day); seed 002's example names.
USERS = {
    "maria": ("FitnessBeast", 10, 3),
    "jon": ("IronWarrior", 6, 2),
    "sean": ("SwanWarrior", 3, 1),
    "amy": ("AmyLifts", 1, 1),
}


def seed_demo(g: Gamification) -> None:
    """Workouts over the last days (oldest first, so streaks build as they would have),
    privacy choices, one gym, one friendship, and points for ``sean`` to spend."""
    now = g.clock()
    for user, (username, days, per_day) in USERS.items():
        for day in range(days, 0, -1):
            for n in range(per_day):
                at = now - timedelta(days=day, hours=n)
                g.track(user, "workout", value=45, metadata={"workoutType": "cardio"}, at=at,
                        idempotency_key=f"demo:{user}:{day}:{n}")  # fmt: skip
        g.social.join_group(user, GYM, kind="gym")
        if user == "amy":  # keeps seed 002's default: friends only, off the global board
            g.social.set_privacy(user, username=username)
        else:
            g.social.set_privacy(user, visibility="public", show_on_global=True, username=username)
    g.social.add_friend("sean", "maria")
    g.award_points("sean", 120_000, currency=CURRENCY, source="admin",
                   description="Demo welcome bonus", transaction_type="bonus",
                   idempotency_key="demo:sean:welcome")  # fmt: skip


def fresh_demo(path: str) -> Gamification:
    """A new demo database at ``path`` (any old one is deleted), seeded, on the real clock."""
    for suffix in ("", "-wal", "-shm"):
        Path(path + suffix).unlink(missing_ok=True)
    engine = open_engine(path)
    try:
        seed_demo(engine)
    except BaseException:
        engine.close()
        raise
    return engine

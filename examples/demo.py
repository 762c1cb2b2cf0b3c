"""The README demo: a small community app awarding XP and points, with a level-up plugin.

Run it with ``./run demo``. It writes ``demo.db`` in the current directory (fresh each run),
so you can open it afterwards with ``sqlite3 demo.db .schema`` or Datasette.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from gamification_sdk import (
    Config,
    CurrencyConfig,
    FakeClock,
    Gamification,
    LevelReward,
    LevelsConfig,
    XPAward,
    errors,
    hookimpl,
)


class Announcer:
    """A plugin: cheers every level-up, after the award is safely committed."""

    @hookimpl
    def on_level_up(self, user_id: str, old_level: int, new_level: int, award: XPAward) -> None:
        paid = ", ".join(
            f"{amount} {currency}" for r in award.rewards for currency, amount in r.points.items()
        )
        print(f"  * {user_id} reached level {new_level} (from {old_level}); rewards: {paid}")


CONFIG = Config(
    levels=LevelsConfig(
        curve="quadratic",  # level = floor(sqrt(xp / 100)) + 1
        level_up_bonus={"sparkle": 200},
        rewards=[LevelReward(level=3, points={"premium": 5}, titles=["Rising Star"])],
    ),
    currencies=[
        CurrencyConfig("sparkle", description="earned by taking part, spent in the shop"),
        CurrencyConfig("premium", spendable=True, max_award=100),
    ],
)

# Rules and badges are data: loaded as a whole, checked strictly, versioned.
DEFINITIONS = {
    "rules": [{"event": "photo_shared", "xp": 15, "points": {"sparkle": 2}, "daily_limit": 5}],
    "achievements": [
        {"key": "first_photo", "name": "Say Cheese", "icon": "📷", "rewards": {"xp": 20},
         "criteria": {"type": "first_time", "event": "photo_shared"}},
        {"key": "photographer", "name": "Photographer", "rarity": "uncommon",
         "criteria": {"type": "count", "event": "photo_shared"},
         "tiers": [{"name": "bronze", "target": 3, "rewards": {"points": {"sparkle": 30}}},
                   {"name": "silver", "target": 10, "rewards": {"title": "Shutterbug"}}]},
    ],
}  # fmt: skip

# Seed 000's XP table: what each action is worth.
XP_FOR = {"post_created": 10, "comment_created": 5, "quality_post": 50, "daily_login": 10}


def main(path: str = "demo.db") -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(path + suffix).unlink(missing_ok=True)
    clock = FakeClock(datetime(2026, 11, 2, 9, 0, tzinfo=UTC))
    with Gamification.open(path, config=CONFIG, clock=clock, plugins=[Announcer()]) as g:
        print("Awarding XP (level-ups are announced by the plugin):")
        activity = [
            ("ada", "quality_post", 4),
            ("ada", "post_created", 12),
            ("grace", "comment_created", 9),
            ("grace", "daily_login", 3),
            ("linus", "post_created", 30),
            ("linus", "quality_post", 2),
        ]
        for user, action, times in activity:
            for n in range(times):
                clock.advance(minutes=7)
                g.award_xp(
                    user, XP_FOR[action], source=action, idempotency_key=f"{user}:{action}:{n}"
                )

        # A retry with the same key returns the original award and writes nothing.
        again = g.award_xp("ada", 10, source="post_created", idempotency_key="ada:post_created:0")
        print(f"\nRetried award {again.id} for ada: still {again.total_xp} XP total at that point")

        print("\nPoints: ada buys a badge with a two-phase purchase; linus tries to overspend.")
        hold = g.reserve_points("ada", 150, currency="sparkle", ttl=timedelta(minutes=5))
        purchase = g.commit_reservation(hold.id, description="Golden quill badge")
        print(f"  ada paid {-purchase.amount} sparkle, balance {purchase.balance_after}")
        try:
            g.spend_points("linus", 10_000, currency="sparkle", source="shop")
        except errors.InsufficientFunds as exc:
            print(f"  linus refused: {exc} -> {exc.details()}")
        g.transfer_points("ada", "grace", 25, currency="sparkle", description="thanks!")

        print("\nAchievements: grace shares photos through track(); rules pay, badges unlock.")
        g.events.load(DEFINITIONS, name="demo")
        for n in range(4):
            clock.advance(minutes=3)
            result = g.track("grace", "photo_shared", idempotency_key=f"grace:photo:{n}")
            for unlock in result.unlocked:
                tier = f" ({unlock.tier})" if unlock.tier else ""
                print(f"  * grace unlocked {unlock.name}{tier}: +{unlock.xp} XP {unlock.points}")
        for status in g.achievements.list("grace"):
            print(
                f"  {status.name:13} {status.current:>3}/{status.target:<3} "
                f"{status.percent:5.1f}%  next: {status.next_tier or '-'}"
            )

        print(
            f"\n{'user':8} {'level':>5} {'xp':>6} {'progress':>9} "
            f"{'sparkle':>8} {'premium':>8}  titles"
        )
        for user in ("ada", "grace", "linus"):
            p = g.profile(user)
            sparkle, premium = p.balances["sparkle"].balance, p.balances.get("premium")
            print(
                f"{user:8} {p.level:>5} {p.xp:>6} {p.progress:>8.1f}% {sparkle:>8} "
                f"{premium.balance if premium else 0:>8}  {', '.join(p.titles) or '-'}"
            )

        page = g.history("ada", currency="sparkle", limit=3)
        print("\nada's latest sparkle transactions:")
        for t in page.transactions:
            what = t.description or t.source
            print(f"  #{t.id:<3} {t.type:9} {t.amount:>+6} -> {t.balance_after:>5}  {what}")
        totals = page.totals["sparkle"]
        print(f"  earned {totals.earned}, spent {totals.spent}, net {totals.net}")

        for user in ("ada", "grace", "linus"):  # seed 002 keeps everyone off global boards
            g.social.set_privacy(user, visibility="public", show_on_global=True)
        g.social.set_privacy("grace", display_name_type="anonymous")
        board = g.boards.get("xp", period="weekly", viewer="grace")
        print(f"\nXP leaderboard, week {board.period_key}:")
        for e in board.entries:
            print(f"  #{e.rank} {e.display_name:<16} level {e.level:<3} {e.score:>6} XP")

        report = g.verify_ledger()
        print(
            f"\nLedger audit: {'OK' if report.ok else report.problems} "
            f"({report.checked_transactions} transactions, {report.checked_accounts} accounts)"
        )
    print(f"Database written to {path}")


if __name__ == "__main__":
    main(*sys.argv[1:])

"""What a user earns by acting: XP and levels, events and metrics, achievements, quests, streaks,
the battle pass.
"""

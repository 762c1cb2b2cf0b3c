"""Users among others: leaderboards and their periods, groups and friends, privacy settings."""

"""The statements of ``economy/referrals.py``: codes, referrals, conversions and milestones."""

from __future__ import annotations

__all__ = [
    "BY_ID", "BY_REFERRED", "BY_REFERRER", "CODE_OF", "CODE_OWNER", "CONVERT", "CONVERTED",
    "COUNTS", "DEVICE_SEEN", "EARLIER", "EARNED", "FROM_IP", "KNOWN_IPS", "MILESTONES",
    "NEW_CODE", "NEW_MILESTONE", "NEW_REFERRAL", "SET_CODE_IP", "SET_POINTS", "SET_STATUS",
]  # fmt: skip

# A referral row, in the order of ``models.Referral``'s fields.
_COLUMNS = (
    "id, code, referrer_id, referred_id, status, flagged, reason, currency, referrer_points, "
    "referred_points, created_at, signed_up_at, converted_at, conversion_kind, revenue, ip, "
    "device_fingerprint, email, utm"
)
BY_ID = f"SELECT {_COLUMNS} FROM referrals WHERE id = ?"
BY_REFERRED = f"SELECT {_COLUMNS} FROM referrals WHERE referred_id = ? AND flagged = 0"
BY_REFERRER = (
    f"SELECT {_COLUMNS} FROM referrals WHERE referrer_id = ? AND id < ? ORDER BY id DESC LIMIT ?"
)
NEW_REFERRAL = (
    "INSERT INTO referrals (code, referrer_id, referred_id, status, flagged, reason, currency, "
    "ip, device_fingerprint, email, utm, created_at, signed_up_at, updated_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
CODE_OF = "SELECT code, ip FROM referral_codes WHERE user_id = ?"
CODE_OWNER = "SELECT user_id FROM referral_codes WHERE code = ?"
# rowcount 0 when the code (or the user) already has a row: the caller draws another code.
NEW_CODE = (
    "INSERT INTO referral_codes (user_id, code, ip, created_at, updated_at) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
)
SET_CODE_IP = "UPDATE referral_codes SET ip = ?, updated_at = ? WHERE user_id = ?"
# The referrer's IPs: the one given with their code, and their own signup's.
KNOWN_IPS = (
    "SELECT ip FROM referral_codes WHERE user_id = ? AND ip IS NOT NULL UNION "
    "SELECT ip FROM referrals WHERE referred_id = ? AND flagged = 0 AND ip IS NOT NULL"
)
# Whether the user was referred before: NULL never, 0 by a paid referral, 1 only flagged.
EARLIER = "SELECT min(flagged) FROM referrals WHERE referred_id = ?"
FROM_IP = "SELECT count(*) FROM referrals WHERE ip = ? AND created_at > ?"
DEVICE_SEEN = "SELECT 1 FROM referrals WHERE device_fingerprint = ? LIMIT 1"
CONVERTED = (
    "SELECT count(*) FROM referrals WHERE referrer_id = ? AND flagged = 0 "
    "AND converted_at IS NOT NULL"
)
# rowcount 0 when the (referrer, tier) was paid before.
NEW_MILESTONE = (
    "INSERT INTO referral_milestones (user_id, tier, name, referrals, currency, "
    "points, title, reached_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (user_id, tier) DO NOTHING"
)
MILESTONES = (
    "SELECT user_id, tier, name, referrals, currency, points, title, reached_at "
    "FROM referral_milestones WHERE user_id = ? ORDER BY referrals"
)
SET_POINTS = "UPDATE referrals SET referrer_points = ?, referred_points = ? WHERE id = ?"
CONVERT = (
    "UPDATE referrals SET status = 'converted', converted_at = ?, conversion_kind = ?, "
    "revenue = ?, referrer_points = referrer_points + ?, updated_at = ? WHERE id = ?"
)
SET_STATUS = "UPDATE referrals SET status = ?, updated_at = ? WHERE id = ?"
# (status, flagged, how many) of the user's referrals as referrer.
COUNTS = (
    "SELECT status, flagged, count(*) FROM referrals WHERE referrer_id = ? GROUP BY status, flagged"
)
# What a user earned through referrals, as (currency, points) rows for the user's id: as
# referrer, as the new user, from milestones.
EARNED = (
    "SELECT currency, sum(referrer_points) FROM referrals "
    "WHERE referrer_id = ? AND flagged = 0 GROUP BY currency",
    "SELECT currency, referred_points FROM referrals WHERE referred_id = ? AND flagged = 0",
    "SELECT currency, sum(points) FROM referral_milestones WHERE user_id = ? GROUP BY currency",
)

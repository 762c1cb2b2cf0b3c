"""Points and what spends them: the double-entry ledger, holds, the shop, referrals, inventory,
rate limits.
"""

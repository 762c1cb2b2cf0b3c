"""Running the engine: scheduled jobs, the ledger audit, notifications, stats, privacy requests."""

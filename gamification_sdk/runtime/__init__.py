"""The engine's machinery: idempotency keys, the plugin manager, the stored configuration."""

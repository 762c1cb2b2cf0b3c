"""The engine's machinery, shared by every capability: the runtime (writes, idempotency keys,
after-commit hooks), the domain-event bus, the notifications outbox, user rows, the protocols
one capability asks another through, opening a file, the plugin manager, the stored
configuration."""

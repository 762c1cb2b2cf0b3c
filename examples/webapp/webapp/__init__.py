"""The example web app: seed 002's gamification API served over the SDK with Flask."""

from __future__ import annotations

from .app import API_PREFIX, create_app
from .catalogue import ShopService, open_engine
from .demo import fresh_demo, seed_demo

__all__ = ["API_PREFIX", "ShopService", "create_app", "fresh_demo", "open_engine", "seed_demo"]

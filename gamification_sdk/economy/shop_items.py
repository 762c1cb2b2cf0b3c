"""What the points shop sells: the ``shop`` entries of a definition set.

They live with the shop, which reads them on every purchase; ``progression/definitions.py``
loads them with the rest of a definition set and re-exports them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

import attrs

from ..config.convert import converter

__all__ = ["ITEM_KINDS", "ItemKind", "ShopItem", "structure_shop_item"]

ItemKind = Literal["cosmetic", "title", "streak_freeze", "tier_boost", "external"]
ITEM_KINDS: tuple[str, ...] = ("cosmetic", "title", "streak_freeze", "tier_boost", "external")


def _dict(value: Mapping[str, Any] | None) -> dict[str, Any]:
    return dict(value or {})


@attrs.frozen
class ShopItem:
    """One thing the points shop sells (seed 002's shop, paid with a two-phase purchase).

    ``price`` is per unit and every currency in it is charged. ``stock`` is how many units
    can ever sell (None: unlimited), ``per_user_limit`` how many one user may hold bought
    (refunded ones do not count). ``kind`` says what a unit gives: ``cosmetic`` the
    inventory item ``item`` (default: the key), ``streak_freeze`` and ``tier_boost`` those
    inventory items, ``units`` of each per unit bought; ``title`` the title ``title``
    (default: the name), once; ``external`` nothing inside the engine: the host's
    ``fulfill_order`` hook delivers it while ``hold_seconds`` hold the points.
    """

    key: str
    name: str
    kind: ItemKind
    price: dict[str, int] = attrs.field(factory=dict, converter=_dict)
    description: str = ""
    category: str = "general"
    icon: str = ""
    stock: int | None = None
    per_user_limit: int | None = None
    available_from: datetime | None = None
    available_until: datetime | None = None
    units: int = 1
    item: str | None = None
    title: str | None = None
    hold_seconds: int = 60
    metadata: dict[str, Any] = attrs.field(factory=dict, converter=_dict)
    order: int = 0

    @property
    def grants_item(self) -> str | None:
        """The inventory item a unit gives, or None (titles and external goods)."""
        if self.kind == "cosmetic":
            return self.item or self.key
        if self.kind in ("streak_freeze", "tier_boost"):
            return self.kind
        return None

    @property
    def grants_title(self) -> str | None:
        return (self.title or self.name) if self.kind == "title" else None


def structure_shop_item(data: Mapping[str, Any]) -> ShopItem:
    return converter.structure(dict(data), ShopItem)

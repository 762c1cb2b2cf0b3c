"""The documentation site: generated references cover the code, hand-written pages cover the
schema, and every guide is reachable from the README.

``./run test`` builds the site with ``mkdocs build --strict`` (broken links, anchors and pages
left out of the nav fail it); these tests check what a build cannot.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs
import pytest
import yaml
from docs_text import DOCS, README

from gamification_sdk import Config, Gamification
from gamification_sdk.progression.definitions import CRITERIA, DefinitionSet


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_generate", DOCS / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


generate = _load_generator()


def sections(markdown: str) -> dict[str, str]:
    """Generated Markdown split at its ``{#anchor}`` headings: anchor -> section text."""
    parts = re.split(r"^#+ .*\{#([\w-]+)\}$", markdown, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def field_rows(section: str) -> list[str]:
    return re.findall(r"^\| `(\w+)` \|", section, flags=re.M)


# -- generated references -------------------------------------------------------------------


def test_hook_reference_has_every_hook_with_its_signature_and_contract() -> None:
    specs = generate.hook_specs()
    assert len(specs) >= 19
    found = sections(generate.hooks_reference())
    assert list(found) == [name for name, _, _ in specs]
    for name, fn, options in specs:
        text = found[name]
        assert f"def {name}(" in text
        assert fn.__doc__.strip().split()[0] in text  # the docstring is the contract
        assert ("**firstresult**" in text) is bool(options["firstresult"])


def _classes(root: type) -> list[type]:
    seen: list[type] = []
    queue = [root]
    while queue:
        cls = queue.pop(0)
        if cls in seen:
            continue
        seen.append(cls)
        for field in attrs.fields(attrs.resolve_types(cls)):
            queue.extend(_attrs_in(field.type))
    return seen


def _attrs_in(tp: Any) -> list[type]:
    found = [tp] if isinstance(tp, type) and attrs.has(tp) else []
    for arg in getattr(tp, "__args__", ()):
        found += _attrs_in(arg)
    return found


def test_definitions_reference_lists_every_field_of_every_kind() -> None:
    found = sections(generate.definitions_reference())
    classes = [c for c in _classes(DefinitionSet) if c is not DefinitionSet]
    assert {c.__name__ for c in classes} >= {"Rule", "Achievement", "Quest", "ShopItem", "Tier"}
    assert set(CRITERIA.values()) <= set(classes)
    for cls in classes:
        rows = field_rows(found[cls.__name__.lower()])
        assert rows == [f.name for f in attrs.fields(cls)], cls.__name__


def test_definitions_reference_gives_types_defaults_and_allowed_values() -> None:
    achievement = sections(generate.definitions_reference())["achievement"]
    assert "| `key` | str | **required** |" in achievement
    rarities = "`common`, `uncommon`, `rare`, `epic`, `legendary`, `mythic`"
    assert f'| `rarity` | str | `"common"` | {rarities} |' in achievement
    assert "| `criteria` | [criterion](#criteria) |" in achievement
    assert "| `tiers` | list of [Tier](#tier) | `[]` |" in achievement
    shop = sections(generate.definitions_reference())["shopitem"]
    assert "| `stock` | int (optional) | `none` |" in shop


def test_configuration_reference_lists_every_field_of_every_class() -> None:
    found = sections(generate.config_reference())
    classes = _classes(Config)
    names = {c.__name__ for c in classes}
    assert names >= {"LevelsConfig", "BoardConfig", "Season", "TierReward", "ReferralTier"}
    for cls in classes:
        assert field_rows(found[cls.__name__.lower()]) == [f.name for f in attrs.fields(cls)]
    config = found["config"]
    # Defaults come through converters (seed 002's rate limits), comments become notes.
    assert "quest_complete = { max = 10, seconds = 86_400 }" in config
    assert "| `day_start_hour` | int | `0` |  | The hour (local) a user's day starts" in config


def test_configuration_guide_explains_every_field_of_every_class() -> None:
    guide = (DOCS / "guides" / "configuration.md").read_text(encoding="utf-8")
    parts = re.split(r"^#{2,3} (.*)$", guide, flags=re.M)
    found = dict(zip(parts[1::2], parts[2::2], strict=True))
    for cls in _classes(Config):
        headings = [heading for heading in found if f"(`{cls.__name__}`)" in heading]
        assert len(headings) == 1, f"{cls.__name__}: expected one section, found {headings}"
        rows = field_rows(found[headings[0]])
        assert rows == [f.name for f in attrs.fields(cls)], cls.__name__


def test_the_hook_replaces_markers_and_refuses_unknown_ones() -> None:
    page = "# Hooks\n\n<!-- reference:hooks -->\n"
    out = generate.on_page_markdown(page, page=None, config=None, files=None)
    assert "<!-- reference" not in out and "## `notify` {#notify}" in out
    with pytest.raises(KeyError, match="unknown reference marker 'nope'"):
        generate.on_page_markdown("<!-- reference:nope -->")


def test_every_reference_page_has_its_marker() -> None:
    markers = {
        name: (DOCS / "reference" / page).read_text(encoding="utf-8")
        for name, page in [("hooks", "hooks.md"), ("definitions", "definitions.md"),
                           ("config", "configuration.md")]
    }  # fmt: skip
    assert set(markers) == set(generate.GENERATORS)
    for name, text in markers.items():
        assert f"<!-- reference:{name} -->" in text


# -- hand-written pages ---------------------------------------------------------------------


def test_every_guide_and_page_is_linked_from_the_readme() -> None:
    readme = README.read_text(encoding="utf-8")
    pages = [p for p in DOCS.rglob("*.md") if p.name != "index.md"]
    missing = [p for p in pages if f"(docs/{p.relative_to(DOCS).as_posix()})" not in readme]
    assert missing == []


def _schema_objects() -> dict[str, str]:
    with Gamification.open(":memory:", load_entrypoints=False) as g:
        rows = g.db.execute(
            "SELECT name, type FROM sqlite_master WHERE type IN ('table', 'view') "
            "AND name NOT LIKE 'sqlite_%'"
        ).fetchall()
    return dict(rows)


def test_every_table_and_view_is_described_on_the_datasette_page() -> None:
    page = (DOCS / "datasette.md").read_text(encoding="utf-8")
    described = set(re.findall(r"^\| `(\w+)`(?:, `(\w+)`)? \|", page, flags=re.M))
    names = {name for pair in described for name in pair if name}
    objects = _schema_objects()
    assert {"user_balances", "ledger_lines", "leaderboard_lines", "unlocked_achievements"} <= {
        name for name, kind in objects.items() if kind == "view"
    }
    assert sorted(set(objects) - names - {"_sqlite_migrations"}) == []


def test_datasette_metadata_names_real_tables_and_queries_real_columns() -> None:
    metadata = yaml.safe_load((DOCS / "datasette" / "metadata.yml").read_text(encoding="utf-8"))
    game = metadata["databases"]["game"]
    assert metadata["databases"]["demo"] == game  # the demo database gets the same metadata
    objects = _schema_objects()
    assert sorted(set(game["tables"]) - set(objects)) == []
    with Gamification.open(":memory:", load_entrypoints=False) as g:
        g.award_points("ada", 10, currency="points", source="quest")
        for name, query in game["queries"].items():
            params = dict.fromkeys(re.findall(r":(\w+)", query["sql"]), "ada")
            g.db.execute(query["sql"], params).fetchall()  # runs: every column exists
            assert query["title"], name


def test_datasette_page_is_about_the_metadata_file_that_exists() -> None:
    page = (DOCS / "datasette.md").read_text(encoding="utf-8")
    assert "-m docs/datasette/metadata.yml" in page
    assert Path(DOCS / "datasette" / "metadata.yml").is_file()
    queries = yaml.safe_load((DOCS / "datasette" / "metadata.yml").read_text("utf-8"))
    for name in queries["databases"]["game"]["queries"]:
        assert f"| `{name}` |" in page

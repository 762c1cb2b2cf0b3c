"""The architecture's rules, checked: SQL only in the storage layer, layers imported downwards
only (import-linter, configured in pyproject.toml) with no import excused, the facade imported
by no module below it."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "gamification_sdk"
# A string literal that starts like a statement, in SQL's conventional upper case.
SQL = re.compile(
    r"^\s*(SELECT|INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER|PRAGMA|BEGIN|COMMIT|ROLLBACK|"
    r"SAVEPOINT|RELEASE|WITH|VACUUM|ANALYZE)\b"
)


def _sql_literals(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.match(node.value):
            found.append((node.lineno, node.value.strip().splitlines()[0][:60]))
    return found


def test_no_sql_outside_the_storage_layer() -> None:
    offenders = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.startswith("storage/"):
            continue
        found = _sql_literals(path)
        if found:
            offenders[relative] = found
    assert offenders == {}, "SQL outside gamification_sdk/storage/: move it to a storage module"


def test_the_scan_finds_sql(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text('Q = "SELECT 1"\nR = f"UPDATE t SET a = {1}"\nS = "Selected users"\n')
    assert [line for line, _ in _sql_literals(sample)] == [1, 2]


def test_the_import_contracts_hold() -> None:
    """The layers and the no-cycle rule of pyproject.toml's [tool.importlinter]."""
    done = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
        capture_output=True,
        text=True,
        cwd=PACKAGE.parent,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _contracts() -> list[dict[str, object]]:
    with (PACKAGE.parent / "pyproject.toml").open("rb") as file:
        return list(tomllib.load(file)["tool"]["importlinter"]["contracts"])


def test_no_import_is_excused_from_the_contracts() -> None:
    """The cycles between capabilities are gone: no contract may list ``ignore_imports``
    again. A follow-up effect is a domain event, a question a protocol (docs/architecture.md)."""
    assert [c["name"] for c in _contracts() if "ignore_imports" in c] == []


def test_the_capabilities_are_layered_ops_social_progression_economy() -> None:
    (layers,) = [c["layers"] for c in _contracts() if c["type"] == "layers"]
    assert isinstance(layers, list)
    order = [name.removeprefix("gamification_sdk.") for name in layers]
    capabilities = [name for name in order if name in ("ops", "social", "progression", "economy")]
    assert capabilities == ["ops", "social", "progression", "economy"]
    assert order.index("economy") + 1 == order.index("runtime")


def _type_only_imports(path: Path) -> list[str]:
    """The modules ``path`` imports under ``if TYPE_CHECKING:`` (import-linter skips them)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in ast.walk(node):
                if isinstance(inner, ast.ImportFrom) and inner.module is not None:
                    found.append("." * inner.level + inner.module)
    return found


def test_no_capability_reaches_up_even_for_type_checking() -> None:
    """import-linter skips type-only imports: a capability holding a higher one behind
    ``TYPE_CHECKING`` would still call it for a follow-up effect, so that is checked here."""
    order = ["economy", "progression", "social", "ops"]
    upward = []
    for low, package in enumerate(order):
        for path in sorted((PACKAGE / package).glob("*.py")):
            for module in _type_only_imports(path):
                target = module.lstrip(".").split(".")[0] if module.startswith("..") else package
                if target in order and order.index(target) > low:
                    upward.append(f"{package}/{path.name} -> {module}")
    assert upward == []


def test_the_type_only_scan_finds_imports(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
        "    from ..progression.achievements import Achievements\n    from .xp import XP\n"
    )
    assert _type_only_imports(sample) == ["..progression.achievements", ".xp"]


def _lint_copy(tmp_path: Path, module: str, line: str) -> str:
    """lint-imports over a copy of the package with ``line`` added to ``module``."""
    copy = tmp_path / "gamification_sdk"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    target = copy / module
    target.write_text(target.read_text(encoding="utf-8") + "\n" + line + "\n", encoding="utf-8")
    contracts = (PACKAGE.parent / "pyproject.toml").read_text(encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text(
        "[tool.importlinter]" + contracts.split("[tool.importlinter]", 1)[1], encoding="utf-8"
    )
    done = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode != 0
    return done.stdout


def test_the_contracts_fail_on_an_upward_import(tmp_path: Path) -> None:
    found = _lint_copy(tmp_path, "core/clock.py", "from ..engine import Gamification  # noqa")
    assert "gamification_sdk.core is not allowed to import gamification_sdk.engine" in found


def test_the_contracts_fail_when_economy_imports_progression(tmp_path: Path) -> None:
    # The ledger once opened profiles itself: now it gets the user rows from runtime/users.py.
    found = _lint_copy(tmp_path, "economy/ledger.py", "from ..progression import profiles  # noqa")
    assert "gamification_sdk.economy is not allowed to import gamification_sdk.progression" in (
        found.replace("\n", " ")
    )


def test_the_contracts_fail_on_a_cycle(tmp_path: Path) -> None:
    # ops already imports economy (privacy -> ledger): economy importing ops closes a loop.
    found = _lint_copy(tmp_path, "economy/inventory.py", "from ..ops import audit  # noqa")
    assert "No cycles are allowed in gamification_sdk" in found


def test_no_module_below_the_facade_imports_it() -> None:
    """Not even for type checking: services get what they need from the runtime, and plugins
    get the facade through their hook arguments."""
    allowed = {"engine.py", "__init__.py", "hookspecs.py"}
    allowed_folders = ("cli/", "simulator/", "default_plugins/")
    importers = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative in allowed or relative.startswith(allowed_folders):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("engine"):
                importers.append(relative)
    assert importers == []

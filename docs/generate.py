"""Reference pages written from the code at build time, so they cannot drift from it.

MkDocs loads this file as a hook (``hooks:`` in mkdocs.yml). A page holding a marker such as
``<!-- reference:hooks -->`` gets the marker replaced by the generated Markdown:

- ``hooks``: every hookspec in ``gamification_sdk/hookspecs.py``, with its signature,
  whether it is ``firstresult``, and its docstring (the contract);
- ``definitions``: every kind of a definition set
  (``gamification_sdk/progression/definitions.py``) and every class it nests, each field
  with its type, default and allowed values;
- ``config``: the same for ``Config`` and the classes it nests.

The tests import it too (``tests/test_docs.py``).
"""

from __future__ import annotations

import ast
import inspect
import json
import re
import textwrap
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime
from typing import Any

import attrs

from gamification_sdk import config as config_module
from gamification_sdk import hookspecs
from gamification_sdk.config.convert import converter
from gamification_sdk.progression import definitions

__all__ = [
    "config_reference",
    "definitions_reference",
    "hook_specs",
    "hooks_reference",
    "on_page_markdown",
]

# -- hooks ----------------------------------------------------------------------------------


def hook_specs() -> list[tuple[str, Callable[..., Any], dict[str, Any]]]:
    """(name, function, pluggy options) of every hookspec, in the order the module defines them."""
    found = []
    for name, value in vars(hookspecs).items():
        options = getattr(value, "gamification_sdk_spec", None)
        if options is not None:
            found.append((name, value, options))
    return found


def _signature(name: str, fn: Callable[..., Any]) -> str:
    sig = inspect.signature(fn)
    params = [
        f"{p.name}: {p.annotation}" if p.annotation is not p.empty else p.name
        for p in sig.parameters.values()
    ]
    head = f"def {name}("
    returns = f") -> {sig.return_annotation}: ..."
    one_line = head + ", ".join(params) + returns
    if len(one_line) <= 96:
        return one_line
    return head + "\n" + "".join(f"    {p},\n" for p in params) + returns


def hooks_reference() -> str:
    intro = inspect.getdoc(hookspecs) or ""
    parts = [
        intro.split("\n\n", 1)[1] if "\n\n" in intro else intro,
        "A hookimpl may take any subset of a hook's arguments, by name.",
    ]
    for name, fn, options in hook_specs():
        first = options.get("firstresult")
        calls = (
            "**firstresult**: the first implementation that returns something other than "
            "None wins; the others are not called."
            if first
            else "**Called on every plugin**: pluggy collects the non-None results in a list."
        )
        doc = inspect.getdoc(fn) or ""
        parts.append(
            f"## `{name}` {{#{name}}}\n\n```python\n{_signature(name, fn)}\n```\n\n{calls}\n\n{doc}"
        )
    return "\n\n".join(parts) + "\n"


# -- attrs classes --------------------------------------------------------------------------


def _anchor(cls: type) -> str:
    return cls.__name__.lower()


def _is_attrs(tp: object) -> bool:
    return isinstance(tp, type) and attrs.has(tp)


def _union_args(tp: object) -> tuple[Any, ...] | None:
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        return typing.get_args(tp)
    return None


def _describe(tp: Any, criteria_link: str | None) -> tuple[str, list[str]]:
    """(type text, allowed values) of a field type, in the words of a TOML/JSON file."""
    if tp is type(None):
        return "none", []
    if tp is definitions.Criterion and criteria_link:
        return f"[criterion]({criteria_link})", []
    if typing.get_origin(tp) is typing.Literal:
        literals = typing.get_args(tp)
        return type(literals[0]).__name__, [f"`{o}`" for o in literals]
    args = _union_args(tp)
    if args is not None:
        texts: list[str] = []
        allowed: list[str] = []
        for arg in args:
            if arg is type(None):
                continue
            text, options = _describe(arg, criteria_link)
            texts.append(text)
            allowed += options
        optional = " (optional)" if type(None) in args else ""
        return " or ".join(texts) + optional, allowed
    origin = typing.get_origin(tp)
    if origin is tuple:
        inner = typing.get_args(tp)[0]
        text, allowed = _describe(inner, criteria_link)
        return f"list of {text}", allowed
    if origin in (dict, Mapping):
        key, value = typing.get_args(tp)
        value_text, allowed = _describe(value, criteria_link)
        return f"table of {_describe(key, criteria_link)[0]} to {value_text}", allowed
    if _is_attrs(tp):
        return f"[{tp.__name__}](#{_anchor(tp)})", []
    names = {
        int: "int",
        float: "number",
        str: "str",
        bool: "bool",
        datetime: "datetime (ISO 8601, with a zone)",
        date: "date (YYYY-MM-DD)",
        Any: "any JSON value",
    }
    return names.get(tp, getattr(tp, "__name__", str(tp))), []


def _toml(value: Any) -> str:
    """A default written as it would be in a TOML file (``none``: leave the field out)."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value) if not isinstance(value, int) or abs(value) < 10_000 else f"{value:_}"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    return str(value)


def _default(field: attrs.Attribute[Any]) -> str:
    default: Any = field.default
    if default is attrs.NOTHING:
        return "**required**"
    if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
        default = default.factory()
    convert = field.converter
    if callable(convert):
        default = convert(default)
    if _is_attrs(type(default)):
        return "all defaults"
    text = _toml(converter.unstructure(default))
    return f"`{text}`" if len(text) <= 200 else f"{len(default)} entries (see the guide)"


def _field_comments(cls: type) -> dict[str, str]:
    """Comments written just above a field in the class body: they document it too."""
    try:
        lines, _ = inspect.getsourcelines(cls)
    except (OSError, TypeError):
        return {}
    source = textwrap.dedent("".join(lines))
    body = source.splitlines()
    found: dict[str, str] = {}
    tree = ast.parse(source)
    node = tree.body[0]
    assert isinstance(node, ast.ClassDef)
    for item in node.body:
        if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
            comment: list[str] = []
            row = item.lineno - 2
            while row >= 0 and body[row].strip().startswith("#"):
                comment.insert(0, body[row].strip().lstrip("#").strip())
                row -= 1
            if comment:
                found[item.target.id] = " ".join(comment)
    return found


def _nested(tp: Any) -> Iterator[type]:
    """The attrs classes a field type mentions."""
    if _is_attrs(tp):
        yield tp
    for arg in typing.get_args(tp):
        yield from _nested(arg)


def _class_section(cls: type, title: str, criteria_link: str | None, level: str = "##") -> str:
    attrs.resolve_types(cls)
    comments = _field_comments(cls)
    doc = inspect.getdoc(cls) if cls.__doc__ else ""
    head = ["field", "type", "default", "allowed values"] + (["notes"] if comments else [])
    rows = ["| " + " | ".join(head) + " |", "| " + " | ".join("---" for _ in head) + " |"]
    for field in attrs.fields(cls):
        text, allowed = _describe(field.type, criteria_link)
        cells = [f"`{field.name}`", text, _default(field), ", ".join(allowed)]
        if comments:
            cells.append(comments.get(field.name, "").replace("|", "\\|"))
        rows.append("| " + " | ".join(cells) + " |")
    return (
        f"{level} {title} {{#{_anchor(cls)}}}\n\n" + (f"{doc}\n\n" if doc else "") + "\n".join(rows)
    )


def _walk(roots: list[type], skip: set[type]) -> list[type]:
    """Every attrs class reachable from ``roots`` through field types, breadth first."""
    order: list[type] = []
    queue = list(roots)
    while queue:
        cls = queue.pop(0)
        if cls in order or cls in skip:
            continue
        order.append(cls)
        attrs.resolve_types(cls)
        for field in attrs.fields(cls):
            queue.extend(_nested(field.type))
    return order


def definitions_reference() -> str:
    fields = attrs.fields(attrs.resolve_types(definitions.DefinitionSet))
    kinds = {field.name: field.type for field in fields}
    criteria = list(definitions.CRITERIA.values())
    parts = [
        "A definition set is a table (TOML), an object (JSON) or a dict with up to four lists: "
        + ", ".join(f"`{name}`" for name in kinds)
        + ". The sections below are generated from the classes cattrs loads them into.",
    ]
    roots: list[type] = []
    for name, tp in kinds.items():
        (cls,) = typing.get_args(tp)[:1]
        roots.append(cls)
        parts.append(f"- `[[{name}]]`: one [{cls.__name__}](#{_anchor(cls)}) per entry")
    parts[-1] += "\n"
    for cls in _walk(roots, set(criteria)):
        parts.append(_class_section(cls, cls.__name__, "#criteria"))
    parts.append(
        "## Criteria {#criteria}\n\n"
        "An achievement's `criteria` is a table whose `type` picks one of these shapes; "
        "`all` and `any` nest others. `target` must be given, except in a tiered achievement, "
        "whose tiers give the targets instead."
    )
    for cls in criteria:
        kind = attrs.fields(attrs.resolve_types(cls)).type.default
        parts.append(_class_section(cls, f"`{kind}` ({cls.__name__})", "#criteria", "###"))
    return "\n\n".join(parts) + "\n"


def config_reference() -> str:
    classes = _walk([config_module.Config], set())
    parts = [
        "`Config` and every class it nests, generated from the classes cattrs loads a "
        "configuration file into. A TOML table or JSON object per class; Python code builds "
        "the same classes (`from gamification_sdk import ...`)."
    ]
    parts += [_class_section(cls, cls.__name__, None) for cls in classes]
    return "\n\n".join(parts) + "\n"


# -- the MkDocs hook ------------------------------------------------------------------------

GENERATORS: dict[str, Callable[[], str]] = {
    "hooks": hooks_reference,
    "definitions": definitions_reference,
    "config": config_reference,
}
_MARKER = re.compile(r"<!-- reference:(\w+) -->")


def on_page_markdown(markdown: str, **_: Any) -> str:
    """Replace each reference marker in a page with the Markdown generated for it."""

    def generate(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in GENERATORS:
            raise KeyError(f"unknown reference marker {name!r}; known: {', '.join(GENERATORS)}")
        return GENERATORS[name]()

    return _MARKER.sub(generate, markdown)

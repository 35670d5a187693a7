"""A Mermaid `erDiagram` drawn from the schema snapshot: columns with PK/FK/UK marks, FK cardinality."""

from __future__ import annotations

import re
from typing import Any

# Mermaid attribute types are single words: the full PostgreSQL type goes in the comment.
_SHORT_TYPES = {
    "character varying": "varchar",
    "timestamp without time zone": "timestamp",
    "timestamp with time zone": "timestamptz",
    "time without time zone": "time",
    "double precision": "float8",
    "character": "char",
}
_FOREIGN_KEY = re.compile(r"^FOREIGN KEY \((?P<columns>[^)]*)\) REFERENCES (?P<target>[^\s(]+)\((?P<refs>[^)]*)\)")
_KEY_COLUMNS = re.compile(r"^(?P<kind>PRIMARY KEY|UNIQUE) \((?P<columns>[^)]*)\)")
HIDDEN_TABLES = frozenset({"schema_migrations"})  # the runner's bookkeeping, not the domain


def _columns(text: str) -> list[str]:
    return [c.strip().strip('"') for c in text.split(",")]


def _short_type(full: str) -> str:
    base = full.split("(", 1)[0].strip()
    base = _SHORT_TYPES.get(base, base)
    return re.sub(r"\W", "_", base.replace("[]", "_array"))


def foreign_keys(table: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for name, definition in table["constraints"].items():
        match = _FOREIGN_KEY.match(definition)
        if match:
            found.append({"name": name, "columns": _columns(match["columns"]), "target": match["target"]})
    return found


def _keys(table: dict[str, Any]) -> tuple[set[str], set[str], list[set[str]]]:
    primary: set[str] = set()
    unique_sets: list[set[str]] = []
    for definition in table["constraints"].values():
        match = _KEY_COLUMNS.match(definition)
        if match and match["kind"] == "PRIMARY KEY":
            primary = set(_columns(match["columns"]))
        elif match:
            unique_sets.append(set(_columns(match["columns"])))
    single_unique = {next(iter(s)) for s in unique_sets if len(s) == 1}
    return primary, single_unique, [primary, *unique_sets]


def mermaid(snapshot: dict[str, Any]) -> str:
    """The ERD as Mermaid text (no code fence), deterministic for a given snapshot."""
    tables = {name: t for name, t in snapshot["tables"].items() if name not in HIDDEN_TABLES}
    lines = ["erDiagram"]
    for name, table in tables.items():
        primary, unique, _ = _keys(table)
        referencing = {c for fk in foreign_keys(table) for c in fk["columns"]}
        lines.append(f"    {name} {{")
        for column, spec in table["columns"].items():
            marks = [m for m, on in (("PK", column in primary), ("FK", column in referencing),
                                     ("UK", column in unique)) if on]  # fmt: skip
            comment = spec["type"] + (" NOT NULL" if spec["not_null"] and column not in primary else "")
            mark = f" {', '.join(marks)}" if marks else ""
            short = _short_type(spec["type"])
            note = f' "{comment}"' if comment != short else ""
            lines.append(f"        {short} {column}{mark}{note}")
        lines.append("    }")
    for name, table in tables.items():
        _, _, unique_sets = _keys(table)
        for fk in foreign_keys(table):
            if fk["target"] not in tables:
                continue
            required = all(table["columns"][c]["not_null"] for c in fk["columns"])
            parent = "||" if required else "|o"  # a nullable FK may reference no parent
            child = "o|" if set(fk["columns"]) in unique_sets else "o{"  # unique FK: at most one child
            lines.append(f'    {fk["target"]} {parent}--{child} {name} : "{", ".join(fk["columns"])}"')
    return "\n".join(lines) + "\n"


README_BLOCK = re.compile(r"(<!-- erd:start -->\n```mermaid\n).*?(```\n<!-- erd:end -->)", flags=re.S)


def with_readme_erd(readme: str, diagram: str) -> str:
    """`readme` with the Mermaid block between the erd markers replaced by `diagram`."""
    if not README_BLOCK.search(readme):
        raise ValueError("the page has no <!-- erd:start --> ```mermaid … ``` <!-- erd:end --> block")
    return README_BLOCK.sub(lambda m: m.group(1) + diagram + m.group(2), readme, count=1)

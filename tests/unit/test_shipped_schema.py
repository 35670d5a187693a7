"""The schema shipped with the package is the committed snapshot's, and every column type in it is understood."""

from __future__ import annotations

import pytest

from alex_db import shipped_schema
from alex_db.authoring.schema_snapshot import SHIPPED_SCHEMA_MODULE, read_snapshot, render_shipped_schema
from alex_db.column_catalog import ColumnType, parse_format_type, shipped_shape
from tests.conftest import ROOT


def test_shipped_schema_is_generated_from_the_committed_snapshot():
    expected = render_shipped_schema(read_snapshot(ROOT / "migrations"))
    assert (ROOT / SHIPPED_SCHEMA_MODULE).read_text(encoding="utf-8") == expected, (
        "lambda_src/alex_db/shipped_schema.py is stale: run `make schema` and commit the result"
    )


def test_every_shipped_table_is_fully_modelled():
    # A table with a type the parser does not know would fall back to a catalog read at cold start.
    assert shipped_schema.TABLES
    for table in shipped_schema.TABLES:
        assert shipped_shape(table) is not None, table


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("character varying(255)", ColumnType("varchar", 255)),
        ("character varying", ColumnType("varchar")),
        ("character(64)", ColumnType("bpchar", 64)),
        ("character", ColumnType("bpchar", 1)),  # PostgreSQL: character without a length is character(1)
        ("numeric(12,2)", ColumnType("numeric", precision=12)),
        ("numeric", ColumnType("numeric")),
        ("timestamp(3) with time zone", ColumnType("timestamptz")),
        ("timestamp without time zone", ColumnType("timestamp")),
        ("double precision", ColumnType("float8", precision=53)),
        ("integer", ColumnType("int4", precision=32)),  # its width in bits, as information_schema says
        ("jsonb", ColumnType("jsonb")),
        ("integer[]", None),  # arrays and enums: the live catalog is asked instead
        ("job_status", None),
    ],
)
def test_format_type_strings_parse_to_what_information_schema_reports(text, expected):
    assert parse_format_type(text) == expected


def test_unbounded_and_worst_case_sizes():
    assert ColumnType("text").unbounded and ColumnType("varchar").unbounded
    assert not ColumnType("varchar", 255).unbounded
    assert ColumnType("varchar", 255).worst_case_bytes() == 255 * 6 + 24
    assert ColumnType("numeric", precision=12).worst_case_bytes() == 14 * 6 + 24

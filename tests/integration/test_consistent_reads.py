"""List reads are one snapshot: while other agents insert and delete, no stable row comes back twice or not at all.

Before, pages were LIMIT/OFFSET calls in separate snapshots: a row inserted or deleted before the
offset between two calls shifted every later row by one (9-11 of 12 reads were wrong).
"""

from __future__ import annotations

import threading

import pytest

from alex_db.database import Database
from alex_db.wide_rows import SNAPSHOT, page_rows

STABLE = [f"M{n:03d}" for n in range(150)]  # more than two pages
READS = 12  # before the fix, 9-11 of 12 reads were wrong: 12 finds the bug every time


@pytest.fixture
def db(db_client) -> Database:
    db_client.batch(
        "INSERT INTO instruments (symbol, name, instrument_type) VALUES (:s, :s, 'etf')", [{"s": s} for s in STABLE]
    )
    return Database(db_client)


def test_find_all_under_concurrent_inserts_and_deletes_never_duplicates_or_skips(db, db_client, db_api):
    stop = threading.Event()
    writes = [0]

    def other_agent():
        # Rows that sort before, between and after the stable ones, appearing and disappearing.
        n = 0
        while not stop.is_set():
            symbols = [f"A{n:05d}", f"M{n % 150:03d}X{n}", f"Z{n:05d}"]
            db_client.batch("INSERT INTO instruments (symbol, name) VALUES (:s, :s)", [{"s": s} for s in symbols])
            db_client.batch(
                "DELETE FROM instruments WHERE symbol = :s", [{"s": s} for s in symbols[: 2 if n % 2 else 1]]
            )
            writes[0] += 1
            n += 1

    writer = threading.Thread(target=other_agent)
    writer.start()
    wrong = []
    try:
        for _ in range(READS):
            seen = [row["symbol"] for row in db.instruments.find_all()]
            stable = [s for s in seen if s in set(STABLE)]
            if stable != STABLE or len(seen) != len(set(seen)):
                wrong.append((len(stable), len(seen) - len(set(seen))))
    finally:
        stop.set()
        writer.join()
    assert writes[0] > READS  # the other agent really wrote while we read
    assert wrong == []


def test_a_list_that_fits_one_response_is_one_call(db, db_api):
    db.instruments.find_all(limit=1)  # the column types, read once per client
    db_api.reset_counts()
    assert len(db.instruments.find_all(limit=20)) == 20
    assert sum(db_api.calls.values()) == 1


def test_a_list_of_several_pages_is_one_repeatable_read_transaction(db, db_api, db_client, monkeypatch):
    sent = []
    execute = db_client.execute
    monkeypatch.setattr(db_client, "execute", lambda sql, *a, **k: sent.append(sql) or execute(sql, *a, **k))
    db_api.reset_counts()
    rows = db.instruments.find_all()
    assert len(rows) == 22 + len(STABLE)
    assert db_api.calls["BeginTransaction"] == 1 and db_api.calls["CommitTransaction"] == 1
    assert SNAPSHOT in sent  # first statement of the transaction


def test_pages_are_sized_from_the_declared_worst_case(db_client):
    # instruments: symbol varchar(20), name varchar(255), type varchar(50), price numeric(12,4), dates.
    worst = db_client.bounded_row_bytes("instruments")
    assert worst >= (20 + 255 + 50) * 4  # every character may take 4 bytes (or 6 escaped)
    rows = page_rows(worst, len(db_client.unbounded_columns("instruments")))
    long_name = "\U0001f4c8" * 255  # 4 bytes each in UTF-8
    db_client.batch(
        "INSERT INTO instruments (symbol, name) VALUES (:s, :n)",
        [{"s": f"W{n:03d}", "n": long_name} for n in range(rows)],
    )
    wide = db_client.query("SELECT * FROM instruments WHERE symbol LIKE 'W%' ORDER BY symbol LIMIT :n", {"n": rows})
    assert len(wide) == rows  # one full page of worst-case rows still fits one response

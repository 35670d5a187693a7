"""Values larger than a Data API row (64 KB) or response (1 MiB) go through the repositories exactly."""

from __future__ import annotations

import uuid

import pytest

from alex_db import Database
from alex_db.errors import DataApiError
from alex_db.wide_rows import PIECE_BYTES, PIECES_PER_CALL


def document(kind: str, size: int) -> dict:
    """A payload of about `size` bytes: markdown with quotes, newlines and non-ASCII, as agents write it."""
    line = f'{kind}: "quoted" \u2013 ünïcödé ✓ text\\with\\backslashes\n'
    return {"kind": kind, "markdown": line * (size // len(line.encode())), "figures": list(range(100))}


@pytest.fixture
def db(db_client) -> Database:
    return Database(db_client)


@pytest.fixture
def big_job(db) -> tuple[str, dict]:
    db.users.create_user("user_big", "Big Report")
    job_id = db.jobs.create_job("user_big", "portfolio_analysis", {"question": "everything"})
    payloads = {
        "report_payload": document("report", 2_000_000),
        "charts_payload": document("charts", 300_000),
        "retirement_payload": document("retirement", 100_000),
        "summary_payload": document("summary", 100_000),
    }
    db.jobs.update_report(job_id, payloads["report_payload"])
    db.jobs.update_charts(job_id, payloads["charts_payload"])
    db.jobs.update_retirement(job_id, payloads["retirement_payload"])
    db.jobs.update_summary(job_id, payloads["summary_payload"])
    return job_id, payloads


def test_two_megabyte_job_round_trips_exactly(db, db_api, big_job):
    job_id, payloads = big_job
    db_api.reset_counts()
    job = db.jobs.find_by_id(job_id)
    for column, payload in payloads.items():
        assert job[column] == payload, column
    assert job["request_payload"] == {"question": "everything"} and job["clerk_user_id"] == "user_big"
    # One call for the row, then the large values in bytea pieces packed to the 1 MiB response.
    stored = sum(len(str(p).encode()) for p in payloads.values())
    assert sum(db_api.calls.values()) <= 1 + -(-stored // (PIECE_BYTES * PIECES_PER_CALL)) + 1


def test_list_query_returns_large_and_small_jobs_exactly(db, big_job):
    job_id, payloads = big_job
    small = db.jobs.create_job("user_big", "risk_assessment", {"q": 1})
    jobs = db.jobs.find_by_user("user_big")
    assert [str(j["id"]) for j in jobs] == [small, job_id]
    assert jobs[1]["report_payload"] == payloads["report_payload"] and jobs[0]["report_payload"] is None


def test_large_text_column_round_trips(db):
    db.users.create_user("user_err", "Err")
    job_id = db.jobs.create_job("user_err", "portfolio_analysis", {})
    message = "Traceback (most recent call last):" + "\n  File 'agent.py', line 1, in run ✗" * 5000
    db.jobs.update_status(job_id, "failed", message)
    assert db.jobs.find_by_id(job_id)["error_message"] == message


def test_value_changed_between_the_calls_is_read_again(db, db_client, big_job, monkeypatch):
    job_id, _ = big_job
    newer = document("report v2", 1_500_000)
    query, changed = db_client.query, []

    def query_then_update(sql, params=None, **kwargs):
        rows = query(sql, params, **kwargs)
        if "__left_out" in sql and not changed:  # another agent rewrites the report between our calls
            changed.append(True)
            db_client.execute(
                "UPDATE jobs SET report_payload = :p WHERE id = :id", {"p": newer, "id": uuid.UUID(job_id)}
            )
        return rows

    monkeypatch.setattr(db_client, "query", query_then_update)
    assert db.jobs.find_by_id(job_id)["report_payload"] == newer  # never half of each version


def test_value_that_never_stops_changing_is_an_error(db, db_client, big_job, monkeypatch):
    job_id, _ = big_job
    query, version = db_client.query, [0]

    def query_then_update(sql, params=None, **kwargs):
        rows = query(sql, params, **kwargs)
        if "__left_out" in sql:
            version[0] += 1
            db_client.execute(
                "UPDATE jobs SET report_payload = :p WHERE id = :id",
                {"p": document(f"v{version[0]}", 200_000), "id": uuid.UUID(job_id)},
            )
        return rows

    monkeypatch.setattr(db_client, "query", query_then_update)
    with pytest.raises(DataApiError, match="changed during each of 3 reads"):
        db.jobs.find_by_id(job_id)


def test_value_over_the_request_limit_is_refused_before_sending(db, db_api):
    from alex_db.errors import ParameterError

    db.users.create_user("user_huge", "Huge")
    job_id = db.jobs.create_job("user_huge", "portfolio_analysis", {})
    db_api.reset_counts()
    with pytest.raises(ParameterError, match=r"parameter :payload alone is \d,\d{3},\d{3} bytes"):
        db.jobs.update_report(job_id, document("report", 5_000_000))
    assert sum(db_api.calls.values()) == 0
    assert db.jobs.find_by_id(job_id)["report_payload"] is None

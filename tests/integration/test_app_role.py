"""The agents' DML-only role on real PostgreSQL, with an Aurora-shaped master and checked passwords."""

from __future__ import annotations

import json
import threading
import uuid

import pytest
from secret_rotation.handler import RotationError
from secret_rotation.handler import on_event as rotate

from alex_db.deploy.app_role import login_users
from alex_db.deploy.runner import AppRole, initialize
from alex_db.errors import DataApiError
from tests.integration.aurora_like import GROUP, aurora_like_database

APP_TABLES = ("users", "instruments", "accounts", "positions", "jobs")


@pytest.fixture
def aurora(pg_server, manifest):
    db = aurora_like_database(pg_server)
    initialize(db.admin, manifest, app_role=AppRole(GROUP, db.app_credentials()), progress=lambda _: None)
    yield db
    db.engine.close()


def permission_denied(client, sql: str) -> str:
    with pytest.raises(DataApiError) as caught:
        client.execute(sql)
    assert "SQLState: 42501" in caught.value.message or "must be owner" in caught.value.message, caught.value.message
    return caught.value.message


def test_agent_can_read_and_write_every_app_table(aurora):
    app = aurora.app
    assert app.query_one("SELECT count(*) AS n FROM instruments")["n"] == 22
    app.execute("INSERT INTO users (clerk_user_id, display_name) VALUES ('u1', 'Ann')")
    account = app.query_one("INSERT INTO accounts (clerk_user_id, account_name) VALUES ('u1', 'ISA') RETURNING id")
    app.execute("INSERT INTO positions (account_id, symbol, quantity) VALUES (:a, 'SPY', 3)", {"a": account["id"]})
    app.execute("UPDATE users SET display_name = 'Ann B' WHERE clerk_user_id = 'u1'")
    job = app.query_one("INSERT INTO jobs (clerk_user_id, job_type) VALUES ('u1', 'portfolio_analysis') RETURNING id")
    app.execute("DELETE FROM jobs WHERE id = :id", {"id": job["id"]})
    assert app.query_one("SELECT current_user AS me")["me"] == login_users(GROUP)[0]


@pytest.mark.parametrize(
    "sql",
    [
        "DROP TABLE users",
        "ALTER TABLE users ADD COLUMN evil text",
        "TRUNCATE positions",
        "CREATE TABLE agent_scratch (id int)",
        "CREATE FUNCTION agent_fn() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$",
        "INSERT INTO schema_migrations (version, name, checksum, duration_ms) VALUES (99, 'x', 'x', 0)",
        "DELETE FROM schema_migrations",
        "SELECT * FROM schema_migrations",
        "CREATE ROLE agent_friend",
        "ALTER ROLE alex_app_1 SUPERUSER",
    ],
)
def test_agent_cannot_change_the_schema_or_the_history(aurora, sql):
    permission_denied(aurora.app, sql)


def test_agent_holds_no_other_role(aurora):
    rows = aurora.app.query(
        "SELECT r.rolname FROM pg_roles r "
        "WHERE pg_has_role(current_user, r.oid, 'MEMBER') AND r.rolname <> current_user"
    )
    assert [r["rolname"] for r in rows] == [GROUP]
    flags = aurora.app.query_one(
        "SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls FROM pg_roles WHERE rolname = current_user"
    )
    assert not any(flags.values())


def test_a_table_from_a_new_migration_is_usable_and_a_migration_can_narrow_a_grant(aurora, manifest, tmp_path):
    from alex_db.authoring.manifest_builder import build_manifest
    from tests.conftest import SEED_DIR
    from tests.integration.test_schema_init import copy_migrations

    newer = build_manifest(
        copy_migrations(
            tmp_path,
            {
                "0003_watchlists.sql": "CREATE TABLE watchlists (id serial PRIMARY KEY, symbol text);\n"
                "REVOKE DELETE ON jobs FROM alex_app;\n"
            },
        ),
        SEED_DIR,
    )
    initialize(aurora.admin, newer, app_role=AppRole(GROUP, aurora.app_credentials()), progress=lambda _: None)
    initialize(aurora.admin, newer, app_role=AppRole(GROUP, aurora.app_credentials()), progress=lambda _: None)
    aurora.app.execute("INSERT INTO watchlists (symbol) VALUES ('SPY')")  # serial: the sequence is usable too
    assert aurora.app.query_one("SELECT count(*) AS n FROM watchlists")["n"] == 1
    permission_denied(aurora.app, "DELETE FROM jobs")  # the narrowing survived the re-init


def test_a_schema_and_a_function_from_a_new_migration_follow_the_role_design(aurora, manifest, tmp_path):
    from alex_db.authoring.manifest_builder import build_manifest
    from tests.conftest import SEED_DIR
    from tests.integration.test_schema_init import copy_migrations

    newer = build_manifest(
        copy_migrations(
            tmp_path,
            {
                "0003_reports.sql": "CREATE SCHEMA reports;\n"
                "CREATE TABLE reports.monthly (id serial PRIMARY KEY, total numeric);\n"
                "CREATE FUNCTION reports.wipe() RETURNS void LANGUAGE sql SECURITY DEFINER "
                "AS 'DELETE FROM public.users';\n"
                "CREATE FUNCTION reports.answer() RETURNS int LANGUAGE sql AS 'SELECT 42';\n"
                "GRANT EXECUTE ON FUNCTION reports.answer() TO alex_app;\n"
            },
        ),
        SEED_DIR,
    )
    initialize(aurora.admin, newer, app_role=AppRole(GROUP, aurora.app_credentials()), progress=lambda _: None)
    aurora.app.execute("INSERT INTO reports.monthly (total) VALUES (1)")  # a new schema: usable at once
    assert aurora.app.query_one("SELECT count(*) AS n FROM reports.monthly")["n"] == 1
    permission_denied(aurora.app, "SELECT reports.wipe()")  # not executable by PUBLIC: never by accident
    assert aurora.app.query_one("SELECT reports.answer() AS a")["a"] == 42  # granted on purpose
    permission_denied(aurora.app, "CREATE TABLE reports.mine (id int)")  # USAGE, never CREATE


def test_an_agent_cannot_change_its_own_password(aurora):
    with pytest.raises(DataApiError) as caught:
        aurora.app.execute("ALTER ROLE CURRENT_USER PASSWORD 'locked-everyone-out'")
    assert "must be a member of rds_password" in caught.value.message  # as Aurora with the parameter group
    assert aurora.app.query_one("SELECT 1 AS ok")["ok"] == 1


def test_role_settings_an_agent_sets_are_drift_and_the_next_rotation_or_init_clears_them(aurora, manifest):
    from alex_db.devtools.verify import role_setting_drift

    login = aurora.app_credentials()["username"]
    aurora.app.execute("ALTER ROLE CURRENT_USER SET search_path = nowhere")  # any role may, on Aurora too
    aurora.app.execute(f"ALTER ROLE CURRENT_USER IN DATABASE {aurora.database} SET default_transaction_read_only = on")
    drifts = [d.message for d in role_setting_drift(aurora.admin, GROUP)]
    assert drifts == [
        f"role {login} carries settings for every later session: search_path=nowhere (init or rotation clears them)",
        f"role {login} in database {aurora.database} carries settings for every later session: "
        "default_transaction_read_only=on (init or rotation clears them)",
    ]
    rotation(aurora, f"v-{uuid.uuid4()}")
    assert role_setting_drift(aurora.admin, GROUP) == []
    aurora.app.execute("ALTER ROLE CURRENT_USER SET search_path = nowhere")
    initialize(aurora.admin, manifest, app_role=AppRole(GROUP, aurora.app_credentials()), progress=lambda _: None)
    assert role_setting_drift(aurora.admin, GROUP) == []


def test_password_never_appears_in_any_statement(pg_server, manifest):
    db = aurora_like_database(pg_server)
    sent: list[str] = []
    original = db.engine.execute_statement

    def recording(**kwargs):
        sent.append(kwargs["sql"])
        sent.append(json.dumps(kwargs.get("parameters", [])))
        return original(**kwargs)

    db.engine.execute_statement = recording
    password = db.app_credentials()["password"]
    initialize(db.admin, manifest, app_role=AppRole(GROUP, db.app_credentials()), progress=lambda _: None)
    assert sent and not any(password in text for text in sent)
    assert any("SCRAM-SHA-256$4096:" in text for text in sent)  # only the verifier travels, as a parameter
    assert db.app.query_one("SELECT 1 AS ok")["ok"] == 1  # and PostgreSQL accepts the password it stands for
    db.engine.close()


def rotation(db, token: str, steps=("createSecret", "setSecret", "testSecret", "finishSecret")) -> None:
    """Secrets Manager's side: label version `token` AWSPENDING, then call the function once per step."""
    if token not in db.store.describe_secret(SecretId=db.app_arn)["VersionIdsToStages"]:
        db.store.begin_rotation(db.app_arn, token)
    for step in steps:
        event = {"SecretId": db.app_arn, "ClientRequestToken": token, "Step": step}
        rotate(
            event, secrets_client=db.store, admin=db.admin, environ={"APP_ROLE": GROUP, "TEST_SECRET_ARN": db.test_arn}
        )


def test_four_step_rotation_switches_users_and_both_passwords_work(aurora):
    first = aurora.app_credentials()
    rotation(aurora, "v2")
    second = aurora.app_credentials()
    assert second["username"] == login_users(GROUP)[1] and second["password"] != first["password"]
    assert aurora.app.query_one("SELECT current_user AS me")["me"] == second["username"]
    previous = aurora.store.get_secret_value(SecretId=aurora.app_arn, VersionStage="AWSPREVIOUS")
    assert json.loads(previous["SecretString"]) == first  # still valid until the rotation after next
    rotation(aurora, "v3")
    assert aurora.app_credentials()["username"] == first["username"]
    assert aurora.app.query_one("SELECT current_user AS me")["me"] == first["username"]


def test_rotation_interrupted_after_set_secret_resumes(aurora):
    rotation(aurora, "v2", steps=("createSecret", "setSecret"))  # the Lambda timed out here
    pending = aurora.store.get_secret_value(SecretId=aurora.app_arn, VersionStage="AWSPENDING")
    rotation(aurora, "v2")  # Secrets Manager retries the whole rotation with the same token
    assert aurora.app_credentials() == json.loads(pending["SecretString"])  # the same pending password
    assert aurora.app.query_one("SELECT 1 AS ok")["ok"] == 1


def test_test_secret_refuses_a_password_not_set_by_this_version(aurora):
    token = f"v-{uuid.uuid4()}"  # roles are cluster-wide: a token no other test used
    rotation(aurora, token, steps=("createSecret",))  # setSecret never ran
    with pytest.raises(RotationError, match=f"not by version {token}"):
        rotation(aurora, token, steps=("testSecret",))
    assert aurora.app.query_one("SELECT 1 AS ok")["ok"] == 1  # AWSCURRENT untouched: agents unaffected


def test_test_secret_logs_in_with_the_pending_password_before_it_becomes_current(aurora):
    token = f"v-{uuid.uuid4()}"
    rotation(aurora, token, steps=("createSecret", "setSecret"))
    pending = json.loads(
        aurora.store.get_secret_value(SecretId=aurora.app_arn, VersionStage="AWSPENDING")["SecretString"]
    )
    # The catalog still says all is well (member, marker), but the password PostgreSQL holds is not the pending one.
    aurora.admin.execute(f"ALTER ROLE {pending['username']} PASSWORD 'not-the-pending-one'")
    with pytest.raises(RotationError, match=f"pending credentials of {pending['username']} do not log in"):
        rotation(aurora, token, steps=("testSecret",))
    assert aurora.app.query_one("SELECT 1 AS ok")["ok"] == 1  # AWSCURRENT untouched: agents unaffected
    scratch = json.loads(aurora.store.get_secret_value(SecretId=aurora.test_arn)["SecretString"])
    assert scratch["password"] == ""  # the pending password does not linger in the scratch secret
    rotation(aurora, token, steps=("setSecret", "testSecret", "finishSecret"))  # a retry repairs it
    assert aurora.app.query_one("SELECT current_user AS me")["me"] == pending["username"]


def test_two_racing_invocations_of_one_rotation_leave_every_agent_working(aurora):
    from botocore.exceptions import ClientError

    token = f"v-{uuid.uuid4()}"
    aurora.store.begin_rotation(aurora.app_arn, token)
    failures: list[Exception] = []
    agent_errors: list[Exception] = []
    done = threading.Event()
    start = threading.Barrier(2)

    def invocation():
        start.wait()
        try:
            rotation(aurora, token)
        except (ClientError, RotationError, DataApiError) as exc:  # the loser of the race fails a step
            failures.append(exc)

    def agent():
        while not done.is_set():
            try:
                aurora.app.query_one("SELECT count(*) AS n FROM instruments")
            except Exception as exc:
                agent_errors.append(exc)

    watcher = threading.Thread(target=agent)
    watcher.start()
    racers = [threading.Thread(target=invocation) for _ in range(2)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()
    rotation(aurora, token)  # Secrets Manager retries a failed rotation with the same token
    done.set()
    watcher.join()
    assert agent_errors == []
    assert all("ResourceExistsException" in str(f) or isinstance(f, (RotationError, DataApiError)) for f in failures)
    current = aurora.app_credentials()
    assert "AWSCURRENT" in aurora.store.describe_secret(SecretId=aurora.app_arn)["VersionIdsToStages"][token]
    assert aurora.app.query_one("SELECT current_user AS me")["me"] == current["username"]


def test_a_late_create_secret_of_a_racing_invocation_cannot_replace_the_pending_password(aurora):
    from botocore.exceptions import ClientError

    token = f"v-{uuid.uuid4()}"
    rotation(aurora, token, steps=("createSecret", "setSecret", "testSecret"))  # invocation A, up to its last step
    pending = aurora.store.get_secret_value(SecretId=aurora.app_arn, VersionStage="AWSPENDING")["SecretString"]
    # Invocation B checked for the pending version before A wrote it; its write comes now.
    late = json.dumps({"username": json.loads(pending)["username"], "password": "b-generated-another"})
    with pytest.raises(ClientError, match="ResourceExistsException"):
        aurora.store.put_secret_value(SecretId=aurora.app_arn, ClientRequestToken=token, SecretString=late,
                                      VersionStages=["AWSPENDING"])  # fmt: skip
    rotation(aurora, token, steps=("finishSecret",))
    assert aurora.app.query_one("SELECT 1 AS ok")["ok"] == 1  # AWSCURRENT holds the password PostgreSQL has


def test_put_secret_value_on_an_existing_version_follows_aws(aurora):
    from botocore.exceptions import ClientError

    store, arn = aurora.store, aurora.app_arn
    store.begin_rotation(arn, "v-same")
    store.put_secret_value(
        SecretId=arn, ClientRequestToken="v-same", SecretString='{"a": 1}', VersionStages=["AWSPENDING"]
    )
    # Identical data: a no-op; other data: ResourceExistsException, and the version keeps its data.
    store.put_secret_value(
        SecretId=arn, ClientRequestToken="v-same", SecretString='{"a": 1}', VersionStages=["AWSPENDING"]
    )
    with pytest.raises(ClientError, match="ResourceExistsException"):
        store.put_secret_value(SecretId=arn, ClientRequestToken="v-same", SecretString='{"a": 2}',
                               VersionStages=["AWSPENDING"])  # fmt: skip
    assert store.get_secret_value(SecretId=arn, VersionStage="AWSPENDING")["SecretString"] == '{"a": 1}'


def test_rotation_during_traffic_fails_no_call(aurora):
    errors: list[Exception] = []
    done = threading.Event()
    calls = [0]

    def agent():
        client = aurora.app
        while not done.is_set():
            try:
                client.query_one("SELECT count(*) AS n FROM instruments")
                calls[0] += 1
            except Exception as exc:
                errors.append(exc)

    threads = [threading.Thread(target=agent) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        for version in range(2, 8):
            rotation(aurora, f"v{version}")
    finally:
        done.set()
        for thread in threads:
            thread.join()
    assert errors == [] and calls[0] > 50


def test_history_table_recreated_by_reset_is_not_the_agents(aurora, manifest):
    from alex_db.devtools.reset import reset_database

    reset_database(aurora.admin, manifest, progress=lambda _: None)  # drops and recreates schema_migrations
    permission_denied(aurora.app, "SELECT * FROM schema_migrations")
    aurora.app.execute("INSERT INTO users (clerk_user_id) VALUES ('after-reset')")  # app tables: granted again


def test_init_custom_resource_creates_the_role_from_the_app_secret(pg_server, manifest):
    from schema_init.handler import on_event
    from tests.integration.test_schema_init import cfn_event

    db = aurora_like_database(pg_server)
    event = cfn_event("Create", manifest, database=db.database)
    event["ResourceProperties"].update({"AppRole": GROUP, "AppSecretArn": db.app_arn})
    response = on_event(event, None, client=db.admin, manifest=manifest, secrets_client=db.store)
    assert response["Data"]["InstrumentCount"] == "22"
    assert db.store.get_secret_value(SecretId=db.app_arn)["SecretString"] not in json.dumps(response)
    assert db.app.query_one("SELECT count(*) AS n FROM instruments")["n"] == 22
    permission_denied(db.app, "DROP TABLE users")
    db.engine.close()


def test_deployed_smoke_check_round_trips_as_the_app_role(aurora):
    from schema_init.smoke import handler

    expected = {"ok": True, "app_group_member": True, "instruments": 22, "ddl_refused": True}
    assert handler(client=aurora.app, environ={"APP_ROLE": GROUP}) == expected
    rotation(aurora, f"v-{uuid.uuid4()}")  # whichever login user is current, the result is the same
    assert handler(client=aurora.app, environ={"APP_ROLE": GROUP}) == expected

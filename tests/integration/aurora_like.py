"""A database shaped like Aurora's: owned by a non-superuser master with CREATEROLE/CREATEDB, passwords checked.

The embedded server trusts local connections; these helpers make PostgreSQL check SCRAM passwords
for the master and for every member of the app group (pg_hba.conf), so a wrong or rotated-away
password fails exactly as on Aurora.
"""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass

import psycopg

from alex_db.client import DataApiClient
from alex_db.deploy.app_role import login_users
from alex_db.devtools.embedded import LocalServer
from alex_db.devtools.local_engine import LocalDataApi
from alex_db.devtools.local_secrets import LocalSecretsManager
from tests.conftest import CLUSTER_ARN, RecordingSleep

GROUP = "alex_app"
HBA_LINES = ("local all alex_admin scram-sha-256", f"local all +{GROUP} scram-sha-256")


def require_passwords(server: LocalServer) -> None:
    hba = server.data_dir / "pg_hba.conf"
    text = hba.read_text()
    if HBA_LINES[0] not in text:
        hba.write_text("\n".join(HBA_LINES) + "\n" + text)
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = 'alex_admin'").fetchone():
            # Aurora's master: not a superuser; CREATEROLE, CREATEDB, owner of the database.
            conn.execute("CREATE ROLE alex_admin LOGIN CREATEROLE CREATEDB")
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = 'rds_password'").fetchone():
            # Aurora's role for password commands under rds.restrict_password_commands = 1; the
            # master may use it (LocalDataApi refuses password commands from everyone else).
            conn.execute("CREATE ROLE rds_password NOLOGIN")
            conn.execute("GRANT rds_password TO alex_admin")
        conn.execute("SELECT pg_reload_conf()")


@dataclass
class AuroraLike:
    database: str
    store: LocalSecretsManager
    admin_arn: str
    app_arn: str
    test_arn: str  # the rotation's scratch secret (testSecret logs in with the pending credentials through it)
    engine: LocalDataApi

    def client(self, secret_arn: str, **kwargs) -> DataApiClient:
        sleeper = RecordingSleep()
        return DataApiClient(self.engine, resource_arn=CLUSTER_ARN, secret_arn=secret_arn, database=self.database,
                             sleep=sleeper, clock=sleeper.clock, **kwargs)  # fmt: skip

    @property
    def admin(self) -> DataApiClient:
        return self.client(self.admin_arn)

    @property
    def app(self) -> DataApiClient:
        return self.client(self.app_arn)

    def app_credentials(self) -> dict[str, str]:
        return json.loads(self.store.get_secret_value(SecretId=self.app_arn)["SecretString"])


def aurora_like_database(server: LocalServer) -> AuroraLike:
    require_passwords(server)
    name = f"a_{uuid.uuid4().hex[:12]}"
    admin_password = secrets.token_urlsafe(24)
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        conn.execute(f"ALTER ROLE alex_admin PASSWORD '{admin_password}'")
        conn.execute(f'CREATE DATABASE "{name}" OWNER alex_admin')
        # PostgreSQL 15+: the public schema belongs to the database owner (pg_database_owner), as on Aurora.
    store = LocalSecretsManager()
    admin = {"username": "alex_admin", "password": admin_password}
    admin_arn = store.create_secret(Name="admin", SecretString=json.dumps(admin))["ARN"]
    app = {"username": login_users(GROUP)[0], "password": secrets.token_urlsafe(30)}
    app_arn = store.create_secret(Name="app", SecretString=json.dumps(app))["ARN"]
    test_arn = store.create_secret(Name="app-rotation-test", SecretString=json.dumps({"username": "", "password": ""}))
    return AuroraLike(name, store, admin_arn, app_arn, test_arn["ARN"], LocalDataApi(server.dsn(name), secrets=store))

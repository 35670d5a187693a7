"""Database: the agents' entry point, every repository over one Data API client."""

from __future__ import annotations

from typing import Any

from alex_db.client import DataApiClient, Params, Result, Transaction
from alex_db.repositories import Accounts, Instruments, Jobs, Positions, Users


class Database:
    """db.users, db.instruments, db.accounts, db.positions, db.jobs over one client (`db.client`).

    Database()                                   ARNs from AURORA_CLUSTER_ARN / AURORA_SECRET_ARN,
                                                 AURORA_DATABASE (default alex), AWS_REGION or AWS_DEFAULT_REGION
    Database(cluster_arn=…, secret_arn=…, database=…, region=…)   explicit values (the course's signature)
    Database(client)                             an existing DataApiClient, or a `client.transaction()`:
                                                 then every repository call is part of that transaction
    """

    def __init__(
        self,
        client: DataApiClient | Transaction | str | None = None,
        secret_arn: str | None = None,
        database: str | None = None,
        region: str | None = None,
        *,
        cluster_arn: str | None = None,
    ) -> None:
        if isinstance(client, str):  # Database(cluster_arn, secret_arn, database, region), positionally
            client, cluster_arn = None, client
        if client is None:
            client = DataApiClient.connect(cluster_arn, secret_arn, database, region)
        elif cluster_arn or secret_arn or database or region:
            raise TypeError("Database(client) takes no ARNs, database or region: the client already has them")
        self.client = client
        self.db = client  # what the course's planner calls it (`db.db.execute(...)`)
        self.users = Users(client)
        self.instruments = Instruments(client)
        self.accounts = Accounts(client)
        self.positions = Positions(client)
        self.jobs = Jobs(client)

    def execute_raw(self, sql: str, parameters: Params = None) -> Result:
        """Any statement; `parameters` a mapping of Python values or a list of Data API SqlParameters."""
        return self.client.execute(sql, parameters)

    def query_raw(self, sql: str, parameters: Params = None) -> list[dict[str, Any]]:
        """Rows as dicts; `parameters` a mapping of Python values or a list of Data API SqlParameters."""
        return self.client.query(sql, parameters)

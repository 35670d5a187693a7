"""`make destroy` for a protected profile: refuse, and explain the two steps that really destroy it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from stacks.config import PROFILES_CONTEXT_KEY, ConfigError, load_profile

ROOT = Path(__file__).resolve().parent.parent

STEPS = """\
AlexDatabase-{name} is protected: stack termination protection is on, the cluster has deletion
protection and its writer instance is retained, so `cdk destroy` cannot leave a writer-less cluster.
To really destroy it (a final cluster snapshot is kept):
  0. keep the PostgreSQL log if you need it (step 2 deletes /aws/rds/cluster/alex-{name}/postgresql,
     whose fixed name would otherwise block a later redeploy): aws logs create-export-task ...
  1. make deploy PROFILE={name} DECOMMISSION=1    # turns the three protections off, nothing else
  2. make destroy PROFILE={name} DECOMMISSION=1   # deletes the stack; RDS takes the final snapshot
A later `make deploy PROFILE={name}` creates it anew (restore the final snapshot: docs/operations.md).
Changed your mind after step 1? `make deploy PROFILE={name}` turns the protections back on."""


def main(argv: list[str]) -> int:
    name, decommission = argv[0], "--decommission" in argv[1:]
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    try:
        profile = load_profile({PROFILES_CONTEXT_KEY: context[PROFILES_CONTEXT_KEY], "profile": name})
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if profile.deletion_protection and not decommission:
        print(STEPS.format(name=name), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

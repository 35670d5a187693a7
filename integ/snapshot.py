"""The integ app's committed snapshot: its templates, compared by `make test`, rewritten by `make integ-snapshot`."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import aws_cdk as cdk

from integ.integ_alex_database import CONTEXT, build

SNAPSHOT = Path(__file__).resolve().parent / "integ_alex_database.py.snapshot"


def normalised(template: dict) -> dict:
    """Without the per-synth `salt` integ-tests adds to each assertion (it forces a re-run on every deploy)."""
    for resource in template.get("Resources", {}).values():
        if resource.get("Type", "").startswith("Custom::DeployAssert"):
            resource.get("Properties", {}).pop("salt", None)
    return template


def synthesized_templates() -> dict[str, dict]:
    """Stack name -> template of the integ app (the test stack and the assertion stack)."""
    with tempfile.TemporaryDirectory() as outdir:
        app = cdk.App(context=CONTEXT, outdir=outdir)
        build(app)
        app.synth()
        return {p.name: normalised(json.loads(p.read_text())) for p in sorted(Path(outdir).glob("*.template.json"))}


def committed_templates() -> dict[str, dict]:
    return {path.name: json.loads(path.read_text()) for path in sorted(SNAPSHOT.glob("*.template.json"))}


def write() -> None:
    SNAPSHOT.mkdir(exist_ok=True)
    for old in SNAPSHOT.glob("*.template.json"):
        old.unlink()
    for name, template in synthesized_templates().items():
        (SNAPSHOT / name).write_text(json.dumps(template, indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(list(SNAPSHOT.glob('*.template.json')))} template(s) to {SNAPSHOT.relative_to(Path.cwd())}")


if __name__ == "__main__":
    sys.exit(write())

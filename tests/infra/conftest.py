"""Synthesize each profile's app once per set of inputs, exactly as `cdk synth` does (cdk-nag included)."""

from __future__ import annotations

import fcntl
import hashlib
import inspect
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from stacks.database_stack import DatabaseStack, build_database_stack

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
ROOT = Path(__file__).resolve().parents[2]
PROFILES = ("dev", "prod")


def cdk_context(**overrides) -> dict:
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    return {**context, **overrides}


def synth_stack(profile: str, outdir: str | None = None, **overrides) -> DatabaseStack:
    app = cdk.App(context=cdk_context(profile=profile, **overrides), outdir=outdir)
    return build_database_stack(app)


# Everything a synthesized template depends on: a change to any of these synthesizes again. The
# example agent stack and the integ app are synthesized by variants (below), so they count too.
SYNTH_INPUTS = ("app.py", "cdk.json", "stacks", "lambda_src", "migrations", "seed", "examples", "integ",
                ".squawk.toml", ".cfnlintrc", "pyproject.toml", "requirements.txt", "requirements-dev.txt",
                "package-lock.json", "tests/infra/conftest.py")  # fmt: skip
CACHE_ROOT = ROOT / ".cache" / "synth"
KEEP_ASSEMBLIES = 3
ACKNOWLEDGMENTS_FILE = "nag-acknowledgments.json"


def synth_inputs_digest() -> str:
    """sha256 of every synth input file (path and bytes), the Python and the aws-cdk-lib versions."""
    from importlib.metadata import version

    digest = hashlib.sha256(f"{sys.version}|{version('aws-cdk-lib')}|{version('cdk-nag')}".encode())
    for name in SYNTH_INPUTS:
        path = ROOT / name
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if "__pycache__" in file.parts or file.suffix == ".pyc":
                continue
            digest.update(str(file.relative_to(ROOT)).encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()[:20]


def nag_acknowledgments(stack) -> set[tuple[str, str]]:
    """(construct path, rule) of every cdk-nag finding a construct acknowledged, with a reason checked."""
    found = set()
    for construct in stack.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                for rule, reason in entry.data.items():
                    if "AwsSolutions" in rule:
                        assert len(reason) > 60, f"{rule}: a reason must say why the finding does not apply"
                        path = construct.node.path.split("/", 1)[1]
                        found.add((path, rule.split("::", 1)[1]))
    return found


@pytest.fixture(scope="session")
def assembly_dir() -> Path:
    """Both profiles' cloud assemblies after a full app.synth() (cdk-nag passed), as `cdk synth` writes them.

    Synthesized once per set of inputs and kept under .cache/synth/<digest>: xdist workers share it
    (the first takes a lock and synthesizes, the others wait and read), and a second `make test`
    with unchanged inputs reads it. A synth that fails is never cached.
    """
    digest = synth_inputs_digest()
    target = CACHE_ROOT / digest
    if (target / "complete").exists():
        return target
    CACHE_ROOT.mkdir(parents=True, exist_ok=True)
    with open(CACHE_ROOT / f"{digest}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also if this worker dies
        if not (target / "complete").exists():
            staging = Path(tempfile.mkdtemp(prefix="staging-", dir=CACHE_ROOT))
            for profile in PROFILES:
                stack = synth_stack(profile, outdir=str(staging / profile))
                stack.node.root.synth()  # raises on any unacknowledged cdk-nag finding
                acknowledged = sorted(nag_acknowledgments(stack))
                (staging / profile / ACKNOWLEDGMENTS_FILE).write_text(json.dumps(acknowledged, indent=1))
            (staging / "complete").touch()
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)
            _prune(CACHE_ROOT, keep=target)
    return target


def _prune(root: Path, keep: Path) -> None:
    """Keep the newest few assemblies (other branches' inputs) and drop the rest."""
    assemblies = sorted((p for p in root.iterdir() if p.is_dir() and p != keep), key=lambda p: p.stat().st_mtime)
    for old in assemblies[: max(len(assemblies) - (KEEP_ASSEMBLIES - 1), 0)]:
        shutil.rmtree(old, ignore_errors=True)


class Variants:
    """Other syntheses of these inputs (context overrides, stacks built in a test), kept with the assembly.

    A variant is a JSON result computed by `build` once per set of synth inputs and per source of the
    file that defines `build` (a changed test computes it again); xdist workers share it under a lock.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def get(self, name: str, build: Callable[[], Any]) -> Any:
        source = Path(inspect.getsourcefile(build)).read_bytes()
        key = hashlib.sha256(name.encode() + b"\0" + source).hexdigest()[:16]
        target = self.directory / f"{key}.json"
        if not target.exists():
            self.directory.mkdir(exist_ok=True)
            with open(self.directory / f"{key}.lock", "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                if not target.exists():
                    staging = target.with_suffix(f".{os.getpid()}.tmp")
                    staging.write_text(json.dumps({"name": name, "result": build()}))
                    staging.replace(target)
        return json.loads(target.read_text())["result"]

    def synth(self, profile: str, **context) -> dict:
        """The app synthesized with context overrides: {"template": ..., "artifact": manifest.json's artifact}."""

        def build() -> dict:
            with tempfile.TemporaryDirectory() as outdir:
                stack = synth_stack(profile, outdir=outdir, **context)
                stack.node.root.synth()
                out = Path(outdir)
                artifact = json.loads((out / "manifest.json").read_text())["artifacts"][stack.artifact_id]
                return {"template": json.loads((out / f"{stack.stack_name}.template.json").read_text()),
                        "artifact": artifact}  # fmt: skip

        return self.get(f"synth {profile} {json.dumps(context, sort_keys=True)}", build)


@pytest.fixture(scope="session")
def variants(assembly_dir) -> Variants:
    return Variants(assembly_dir / "variants")


@pytest.fixture(scope="session")
def cloud_assembly(assembly_dir) -> dict[str, dict]:
    """Each profile's manifest.json artifact of its stack: name, environment, termination protection, tags."""
    artifacts = {}
    for profile in PROFILES:
        manifest = json.loads((assembly_dir / profile / "manifest.json").read_text())
        artifacts[profile] = manifest["artifacts"][f"AlexDatabase-{profile}"]
    return artifacts


@pytest.fixture(scope="session")
def template_files(assembly_dir) -> dict[str, Path]:
    return {profile: assembly_dir / profile / f"AlexDatabase-{profile}.template.json" for profile in PROFILES}


@pytest.fixture(scope="session")
def template_json(template_files) -> dict[str, dict]:
    return {profile: json.loads(path.read_text()) for profile, path in template_files.items()}


@pytest.fixture(scope="session")
def templates(template_json) -> dict[str, Template]:
    return {profile: Template.from_json(data) for profile, data in template_json.items()}


@pytest.fixture(params=PROFILES)
def profile(request) -> str:
    return request.param

"""The init and rotation Lambdas' asset without Docker: both handlers, the deploy layer and what they import,
the manifest."""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import ILocalBundling

from alex_db.deploy.manifest import MANIFEST_FILE

LAMBDA_SRC = Path(__file__).resolve().parent.parent / "lambda_src"
# Packages bundled whole; every alex_db module they import at module level comes along.
# Imports inside functions are optional paths (e.g. the local engine) and are not followed.
BUNDLED_PACKAGES = ("schema_init", "secret_rotation", "protection_release", "alex_db/deploy")


def _module_path(source: Path, module: str) -> Path | None:
    base = source / module.replace(".", "/")
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def _top_level_imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {name for name in names if name.split(".")[0] == "alex_db"}


def bundled_files(source: Path = LAMBDA_SRC) -> list[Path]:
    """Paths (relative to `source`) of the handler, the deploy layer and their alex_db imports, transitively."""
    todo = [p for package in BUNDLED_PACKAGES for p in sorted((source / package).glob("*.py"))]
    found: set[Path] = set()
    while todo:
        path = todo.pop()
        if path in found:
            continue
        found.add(path)
        parts = path.relative_to(source).with_suffix("").parts
        # A module's parent packages run their __init__ on import.
        todo += [source.joinpath(*parts[:i], "__init__.py") for i in range(1, len(parts))]
        for module in _top_level_imports(path):
            target = _module_path(source, module)
            if target is not None:
                todo.append(target)
    return sorted(p.relative_to(source) for p in found if p.exists())


@jsii.implements(ILocalBundling)
class InitAssetBundler:
    """Writes the bundled modules and the validated manifest into the asset directory."""

    def __init__(self, source: Path, manifest: dict[str, Any]) -> None:
        self.source, self.manifest = source, manifest

    def try_bundle(self, output_dir: str, *args: Any, **kwargs: Any) -> bool:
        out = Path(output_dir)
        for relative in bundled_files(self.source):
            (out / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.source / relative, out / relative)
        (out / MANIFEST_FILE).write_text(json.dumps(self.manifest, indent=1, sort_keys=True) + "\n")
        return True

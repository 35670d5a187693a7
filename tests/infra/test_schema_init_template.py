"""Template assertions for the schema-init custom resource, and synth failures on bad input."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from aws_cdk.assertions import Template

from alex_db.errors import MigrationError, MigrationFileError, SeedError
from stacks.access import DATA_API_ACTIONS
from stacks.init_asset import bundled_files
from tests.infra.conftest import ROOT, cdk_context, synth_stack
from tests.infra.test_database_stack import resources


def schema_init(template_json: dict) -> tuple[str, dict]:
    ((logical_id, resource),) = resources(template_json, "Custom::AlexSchemaInit").items()
    return logical_id, resource


def handler(template_json: dict) -> tuple[str, dict]:
    ((logical_id, fn),) = (
        (k, v)
        for k, v in resources(template_json, "AWS::Lambda::Function").items()
        if v["Properties"].get("Handler") == "schema_init.handler.on_event"
    )
    return logical_id, fn


def test_custom_resource_properties_carry_hashes_and_migration_list(template_json, manifest, profile):
    _, resource = schema_init(template_json[profile])
    props = resource["Properties"]
    assert props["ManifestHash"] == manifest["manifest_hash"]
    assert props["MigrationsHash"] == manifest["migrations_hash"]
    assert props["SeedHash"] == manifest["seed_hash"]
    assert props["Migrations"] == ["0001_initial_schema", "0002_course_vocabularies"]
    assert props["Database"] == "alex"
    assert "Fn::GetAtt" in props["ServiceToken"]


def test_unchanged_inputs_give_identical_properties(template_json, variants):
    # Same properties on the next synth => CloudFormation does not invoke the Lambda at all. The second
    # synth is made (and kept) with this set of inputs, so a non-deterministic input shows here.
    again = variants.get("dev again", lambda: Template.from_stack(synth_stack("dev")).to_json())
    _, first = schema_init(template_json["dev"])
    _, second = schema_init(again)
    assert first["Properties"] == second["Properties"]


def test_custom_resource_waits_for_the_writer_instance(template_json, profile):
    _, resource = schema_init(template_json[profile])
    writer_ids = [
        k for k, v in resources(template_json[profile], "AWS::RDS::DBInstance").items() if k.startswith("Clusterwriter")
    ]
    assert len(writer_ids) == 1
    assert writer_ids[0] in resource["DependsOn"]


def test_handler_runtime_architecture_and_limits(template_json, profile):
    _, fn = handler(template_json[profile])
    props = fn["Properties"]
    assert props["Runtime"] == "python3.14"
    assert props["Architectures"] == ["arm64"]
    assert props["Timeout"] == 300
    assert props["MemorySize"] == 256
    assert "VpcConfig" not in props  # the Data API is an HTTPS endpoint: no VPC, no NAT


def test_handler_has_exactly_the_data_api_grant(template_json, profile):
    _, fn = handler(template_json[profile])
    role = fn["Properties"]["Role"]["Fn::GetAtt"][0]
    policies = [
        p
        for p in resources(template_json[profile], "AWS::IAM::Policy").values()
        if {"Ref": role} in p["Properties"]["Roles"]
    ]
    (policy,) = policies
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    actions = sorted(a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"]))
    key = ["kms:Decrypt", "kms:Decrypt"] if profile == "prod" else []  # the master and the app secret, one each
    assert actions == sorted(
        [*DATA_API_ACTIONS.rds_data, *DATA_API_ACTIONS.secret_read,
         "logs:CreateLogStream", "logs:PutLogEvents", *key]
    )  # fmt: skip
    (logs_statement,) = [s for s in statements if isinstance(s["Action"], list) and s["Action"][0].startswith("logs:")]
    log_group = fn["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    assert logs_statement["Resource"] == {"Fn::GetAtt": [log_group, "Arn"]}
    role_props = template_json[profile]["Resources"][role]["Properties"]
    assert "ManagedPolicyArns" not in role_props  # no AWSLambdaBasicExecutionRole
    text = json.dumps(policy["Properties"]["PolicyDocument"])
    cluster_id = next(iter(resources(template_json[profile], "AWS::RDS::DBCluster")))
    assert cluster_id in text and "MasterUserSecret.SecretArn" in text


def test_schema_version_is_an_output(template_json, profile):
    logical_id, _ = schema_init(template_json[profile])
    assert template_json[profile]["Outputs"]["SchemaVersion"]["Value"] == {"Fn::GetAtt": [logical_id, "SchemaVersion"]}


def test_init_asset_holds_runtime_modules_and_manifest(assembly_dir):
    # Asset staging happens at synth; find it through the function's code location in the assembly.
    outdir = assembly_dir / "dev"
    assets = [p for p in outdir.glob("asset.*") if (p / "manifest.json").exists()]
    assert len(assets) == 1
    asset = assets[0]
    manifest = json.loads((asset / "manifest.json").read_text())
    assert [m["version"] for m in manifest["migrations"]] == [1, 2]
    assert len(manifest["seed"]["instruments"]) == 22
    staged = sorted(str(p.relative_to(asset)) for p in asset.rglob("*.py"))
    assert staged == [str(p) for p in bundled_files()]
    assert (asset / "alex_db" / "deploy" / "runner.py").exists()
    assert not (asset / "alex_db" / "devtools").exists()


def test_provider_framework_is_used(template_json, profile):
    handlers = {
        v["Properties"].get("Handler") for v in resources(template_json[profile], "AWS::Lambda::Function").values()
    }
    assert "framework.onEvent" in handlers


def test_handler_logs_to_its_own_group_with_retention(template_json, profile):
    _, fn = handler(template_json[profile])
    group_id = fn["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    group = template_json[profile]["Resources"][group_id]
    assert group["Properties"]["RetentionInDays"] == {"dev": 7, "prod": 365}[profile]


def synth_process(tmp_path: Path, **context) -> subprocess.CompletedProcess:
    """`python app.py` exactly as `cdk synth` runs it, with extra context and a private output dir."""
    env = {
        **os.environ,
        "CDK_CONTEXT_JSON": json.dumps(cdk_context(**context)),
        "CDK_OUTDIR": str(tmp_path / "cdk.out"),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }
    return subprocess.run([sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True, check=False)


def test_sql_syntax_error_fails_synth_naming_file_and_line(tmp_path):
    migrations = tmp_path / "migrations"
    shutil.copytree(ROOT / "migrations", migrations)
    (migrations / "0002_typo.sql").write_text("-- adds watchlists\n\nCREATE TABEL watchlists (id int);\n")
    # In this process: app.py prints exactly this message after "cdk synth failed: " (the squawk case
    # below runs app.py as `cdk synth` does and checks that framing).
    with pytest.raises(MigrationError) as excinfo:
        synth_stack("dev", migrations_dir=str(migrations))
    assert '0002_typo.sql:3:8: syntax error at or near "TABEL"' in str(excinfo.value)


def test_invalid_seed_row_fails_synth_naming_symbol_and_field(tmp_path):
    seed = tmp_path / "seed"
    shutil.copytree(ROOT / "seed", seed)
    rows = json.loads((seed / "instruments.json").read_text())
    rows[1]["allocation_sectors"]["technology"] = 70  # QQQ now sums to 120
    rows[4]["instrument_type"] = "crypto"
    (seed / "instruments.json").write_text(json.dumps(rows))
    with pytest.raises(SeedError) as excinfo:
        synth_stack("dev", seed_dir=str(seed))
    message = str(excinfo.value)
    sectors = "allocation_sectors: Value error, allocation_sectors must sum to 100"
    assert f"instruments.json: QQQ (row 2): {sectors}" in message
    assert "instruments.json: VWO (row 5): instrument_type: Input should be" in message


def test_bad_migration_name_fails_synth_in_process(tmp_path):
    migrations = tmp_path / "migrations"
    shutil.copytree(ROOT / "migrations", migrations)
    (migrations / "2_oops.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationFileError, match=r"2_oops\.sql: migration files are named NNNN_snake_case_name\.sql"):
        synth_stack("dev", migrations_dir=str(migrations))


def test_transaction_control_in_a_migration_fails_synth_naming_file_and_line(tmp_path):
    migrations = tmp_path / "migrations"
    shutil.copytree(ROOT / "migrations", migrations)
    (migrations / "0003_half.sql").write_text(
        "CREATE TABLE watchlists (id int);\nCOMMIT;\nCREATE INDEX CONCURRENTLY w ON watchlists (id);\n"
    )
    with pytest.raises(MigrationError) as excinfo:
        synth_stack("dev", migrations_dir=str(migrations))
    message = str(excinfo.value)
    assert "0003_half.sql:2: COMMIT: transaction control would end the migration's own transaction" in message
    assert "0003_half.sql:3: CONCURRENTLY: PostgreSQL refuses it inside a transaction block" in message


def test_migration_lock_timeout_is_a_profile_setting(template_json, profile, variants):
    _, resource = schema_init(template_json[profile])
    assert resource["Properties"]["LockTimeoutSeconds"] == "5"  # the default in both profiles
    profiles = cdk_context()["alex:profiles"]
    slower = {**profiles, "dev": {**profiles["dev"], "migration_lock_timeout_seconds": 2.5}}
    template = variants.synth("dev", **{"alex:profiles": slower})["template"]
    (props,) = [
        r["Properties"] for r in template["Resources"].values() if r["Type"] == "Custom::AlexSchemaInit"
    ]  # fmt: skip
    assert props["LockTimeoutSeconds"] == "2.5"


def synth_with_an_unsafe_migration() -> dict:
    """`python app.py` with a migration that builds an index on a big table without CONCURRENTLY."""
    with tempfile.TemporaryDirectory() as scratch:
        migrations = Path(scratch) / "migrations"
        shutil.copytree(ROOT / "migrations", migrations)
        (migrations / "0003_jobs_by_type.sql").write_text(
            "-- jobs holds millions of rows: this blocks every agent's writes while it builds\n"
            "CREATE INDEX idx_jobs_type ON jobs (job_type);\n"
        )
        result = synth_process(Path(scratch), migrations_dir=str(migrations))  # app.py, as `cdk synth` runs it
        return {"returncode": result.returncode, "stderr": result.stderr}


def test_an_unsafe_migration_for_a_big_table_fails_synth_naming_file_line_and_squawk_rule(variants):
    result = variants.get("app.py with an unsafe migration", synth_with_an_unsafe_migration)
    assert result["returncode"] != 0
    assert result["stderr"].startswith("cdk synth failed: ")
    assert "0003_jobs_by_type.sql:2: squawk require-concurrent-index-creation:" in result["stderr"]
    assert "Traceback" not in result["stderr"]

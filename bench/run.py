"""`make bench`: the figures behind the README's performance and cost claims (reported, never asserted)."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "lambda_src")]
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from alex_db.authoring.manifest_builder import build_manifest  # noqa: E402
from alex_db.client import DataApiClient  # noqa: E402
from alex_db.deploy.runner import initialize  # noqa: E402
from alex_db.devtools.embedded import start_server, stop_server  # noqa: E402
from alex_db.devtools.local_engine import LocalDataApi  # noqa: E402

HOURS_PER_MONTH = 730
# us-east-1, 2026 (see ../shared/FACTS.md "Prices"); idle = no queries, nothing stored beyond a fresh DB.
PRICES = {
    "acu_hour": 0.12,  # Aurora Serverless v2, Aurora Standard; $0 while auto-paused
    "nat_gateway_hour": 0.045,
    "interface_endpoint_az_hour": 0.01,
    "kms_key_month": 1.00,
    "secret_month": 0.40,  # managed (rds!cluster-...) secrets are billed too
    "log_ingest_gb": 0.50,
    "storage_gb_month": 0.10,
    "alarm_month": 0.10,  # standard-resolution CloudWatch alarm
    "backup_gb_month": 0.021,  # Aurora backup storage in AWS Backup (snapshot storage price); vaults are free
}
# Enhanced monitoring at 60 s: one ~3 KB OS-metrics record per instance-minute into RDSOSMetrics.
ASSUMED_MONITORING_GB_PER_INSTANCE = 0.13
ASSUMED_IDLE_LOG_GB_PER_GROUP = 0.01  # a few MB/month: Lambda/flow/PostgreSQL logs while idle
ASSUMED_STORAGE_GB = 1  # a fresh database; Aurora bills the storage actually used


def heading(number: int, title: str, how: str) -> None:
    print(f"\n{number}. {title}\n   how: {how}")


def fresh_database(server) -> tuple[LocalDataApi, DataApiClient]:
    import psycopg

    name = f"bench_{time.monotonic_ns()}"
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    api = LocalDataApi(server.dsn(name))
    client = DataApiClient(
        api,
        resource_arn="arn:aws:rds:local:000000000000:cluster:bench",
        secret_arn="arn:aws:secretsmanager:local:000000000000:secret:bench",
        database=name,
    )
    return api, client


def data_api_calls(server, manifest: dict) -> None:
    heading(1, "Data API calls", "LocalDataApi's per-operation counters around alex_db.init.initialize()")
    api, client = fresh_database(server)
    initialize(client, manifest, progress=lambda _line: None)
    statements = sum(len(m["statements"]) for m in manifest["migrations"])
    migrations = len(manifest["migrations"])
    fresh = sum(api.calls.values())
    print(f"   fresh init:     {fresh} calls {dict(api.calls)}")
    print(f"                   {statements} migration statements in {migrations} migration(s); per migration the")
    print("                   engine adds BeginTransaction, a lock+claim statement, a duration update, Commit")
    print(f"                   target statements + 2 x migrations + 4 = {statements + 2 * migrations + 4}; "
          f"counting the 2 bookkeeping statements per migration as statements: "
          f"{statements + 2 * migrations} + 2 x {migrations} + 4 = {statements + 4 * migrations + 4}")  # fmt: skip
    from alex_db.deploy.runner import AppRole

    api2, client2 = fresh_database(server)
    app_role = AppRole("alex_app", {"username": "alex_app_1", "password": "bench-password-0123456789"})
    initialize(client2, manifest, app_role=app_role, progress=lambda _line: None)
    print(f"   with the app role (as the init Lambda runs it): {sum(api2.calls.values())} calls "
          f"(+ Begin, roles DO, verifier, password DO, Commit)")  # fmt: skip
    api2.close()
    seeds = len(manifest["seed"]["instruments"])
    print(f"   seed rows/call: {seeds} rows in {api.calls['BatchExecuteStatement']} BatchExecuteStatement call(s)")
    api.reset_counts()
    initialize(client, manifest, progress=lambda _line: None)
    print(f"   re-init, local: {sum(api.calls.values())} calls {dict(api.calls)}, 0 migration statements")
    print("   re-deploy with unchanged migrations and seed: 0 calls - the custom resource's properties are")
    print("                   identical, so CloudFormation never invokes the Lambda (tests/infra asserts it)")
    api.close()


def large_job_calls(server, manifest: dict) -> None:
    heading(
        "1b",
        "Data API calls for a 2 MB job",
        "report 2 MB, charts 300 KB, retirement and summary 100 KB each, under the enforced 64 KB row / 1 MiB "
        "response / 4 MiB request limits",
    )
    from alex_db import Database
    from alex_db.wide_rows import PIECE_BYTES, PIECES_PER_CALL

    api, client = fresh_database(server)
    initialize(client, manifest, progress=lambda _line: None)
    db = Database(client)
    db.users.create_user("bench_user", "Bench")
    line = 'markdown "quoted" text, ünïcödé\n'
    sizes = {"report_payload": 2_000_000, "charts_payload": 300_000, "retirement_payload": 100_000,
             "summary_payload": 100_000}  # fmt: skip
    payloads = {c: {"markdown": line * (n // len(line.encode()))} for c, n in sizes.items()}
    api.reset_counts()
    job_id = db.jobs.create_job("bench_user", "portfolio_analysis", {"q": "all"})
    db.jobs.update_report(job_id, payloads["report_payload"])
    db.jobs.update_charts(job_id, payloads["charts_payload"])
    db.jobs.update_retirement(job_id, payloads["retirement_payload"])
    db.jobs.update_summary(job_id, payloads["summary_payload"])
    writes = sum(api.calls.values())
    api.reset_counts()
    job = db.jobs.find_by_id(job_id)
    reads = sum(api.calls.values())
    api.reset_counts()
    listed = db.jobs.find_by_user("bench_user")
    listing = sum(api.calls.values())
    exact = all(job[c] == p for c, p in payloads.items()) and listed[0]["report_payload"] == payloads["report_payload"]
    stored = sum(len(json.dumps(p, ensure_ascii=False).encode()) for p in payloads.values())
    floor = 1 + -(-stored * 4 // 3 // (1024 * 1024))
    print(f"   writes: {writes} calls (create_job + 4 update_*: one call each, every request < 4 MiB)")
    print(f"   find_by_id: {reads} calls (1 row query + bytea pieces of {PIECE_BYTES} bytes, {PIECES_PER_CALL} per "
          f"response); floor for {stored / 1e6:.2f} MB as base64 in 1 MiB responses: {floor}")  # fmt: skip
    print(f"   find_by_user: {listing} calls; round trip exact: {exact}")
    api.close()


def course_web_app(server, manifest: dict) -> None:
    from bench.course_replay import FIGURES, alex_db_replay

    heading(
        "1c",
        "the course's web app and test_scale.py on alex_db vs on the course's own package",
        "bench/course_replay.py replays the frontend's session (28 requests, bench/course_routes.py) and "
        "test_scale.py's users on a cold client; the course's figures are recorded in bench/course_figures.json",
    )
    ours, course = alex_db_replay(server, manifest), json.loads(FIGURES.read_text(encoding="utf-8"))
    print(f"   course figures: commit {course['course_commit'][:12]}; how: {course['how']}")
    per_route: dict[str, list[int]] = {}
    for (_, route, status, calls), (_, _, course_status, course_calls) in zip(
        ours["session"], course["session"], strict=True
    ):
        totals = per_route.setdefault(route, [0, 0, 0, 0])
        totals[0] += 1
        totals[1] += calls
        totals[2] += course_calls
        totals[3] += status != course_status
    print(f"   {'route':42} {'requests':>8} {'alex_db':>8} {'course':>8}  status differs")
    for route, (requests, calls, course_calls, differs) in per_route.items():
        flag = "" if calls <= course_calls else "  OVER"
        print(f"   {route:42} {requests:>8} {calls:>8} {course_calls:>8}  {differs}{flag}")
    total, course_total = sum(s[3] for s in ours["session"]), sum(s[3] for s in course["session"])
    print(f"   session total: {total} calls vs the course's {course_total}; target: every route <= the course's")
    print(f"   catalog calls at a cold start: {ours['catalog_calls_at_cold_start']} (target 0)")
    print(f"   test_scale.py users, calls: {ours['scale_calls_per_user']} vs the course's "
          f"{course['scale_calls_per_user']}")  # fmt: skip
    print(f"   test_scale.py local wall time per user (median of 15): {ours['scale_ms_per_user_median']} ms vs the "
          f"course's {course['scale_ms_per_user_median']} ms (recorded on the machine that measured it)")  # fmt: skip


def local_data_api_overhead(server) -> None:
    import psycopg

    heading(
        "1d",
        "LocalDataApi per-call overhead",
        "median of 2000 ExecuteStatement calls (one parameter, two columns back) minus the median of the same "
        "query through one psycopg connection, same server; target <= 0.5 ms",
    )
    api, client = fresh_database(server)
    request = {"resourceArn": client.resource_arn, "secretArn": client.secret_arn, "database": client.database,
               "sql": "SELECT :a::int + 1 AS n, 'x' AS s", "includeResultMetadata": True,
               "parameters": [{"name": "a", "value": {"longValue": 1}}]}  # fmt: skip

    def median_ms(call) -> float:
        for _ in range(200):
            call()
        samples = []
        for _ in range(2000):
            started = time.perf_counter()
            call()
            samples.append(time.perf_counter() - started)
        return statistics.median(samples) * 1000

    local = median_ms(lambda: api.execute_statement(**request))
    with psycopg.connect(api.dsn, autocommit=True) as conn:
        plain = median_ms(lambda: conn.execute("SELECT %s::int + 1 AS n, 'x' AS s", (1,)).fetchall())
    print(f"   LocalDataApi {local:.3f} ms, psycopg {plain:.3f} ms: overhead {local - plain:.3f} ms per call")
    api.close()


def local_init_time(server, manifest: dict) -> None:
    heading(2, "local init, empty -> populated", "median of 5 runs of initialize() on a new database each, server up")
    times = []
    for _ in range(5):
        api, client = fresh_database(server)
        started = time.perf_counter()
        initialize(client, manifest, progress=lambda _line: None)
        times.append((time.perf_counter() - started) * 1000)
        api.close()
    runs = ", ".join(f"{t:.0f}" for t in times)
    print(f"   median {statistics.median(times):.0f} ms (runs: {runs} ms); target <= 1000 ms")


EMPTY_APP = "import aws_cdk as cdk\napp = cdk.App()\ncdk.Stack(app, 'Empty')\napp.synth()\n"


def synth_time() -> None:
    heading(3, "cdk synth time", "`npx cdk synth --quiet` wall time, 5 interleaved runs each, this app vs an empty app")
    python = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        empty = Path(tmp) / "empty_app.py"
        empty.write_text(EMPTY_APP)

        def run(app: str) -> float:
            started = time.perf_counter()
            subprocess.run(
                ["npx", "--no-install", "cdk", "synth", "--quiet", "--app", app, "--output", str(Path(tmp) / "out")],
                cwd=ROOT, check=True, capture_output=True,
            )  # fmt: skip
            return time.perf_counter() - started

        run(f"{python} {empty}")  # warm the jsii cache once, for both
        # Interleaved, so that machine noise (other processes, CPU boost) hits both alike.
        pairs = [(run(f"{python} app.py"), run(f"{python} {empty}")) for _ in range(5)]
        ours = statistics.median(o for o, _ in pairs)
        baseline = statistics.median(e for _, e in pairs)
    ratio = ours / baseline
    print(f"   this app {ours:.1f} s, empty app {baseline:.1f} s (medians of 5), ratio {ratio:.2f}; target <= 1.5")


def asset_and_import() -> None:
    heading(
        4, "init asset and cold import", "bundle as synth does; `import schema_init.handler` in 5 fresh interpreters"
    )
    from stacks.schema_init import LAMBDA_SRC, InitAssetBundler

    manifest = build_manifest(ROOT / "migrations", ROOT / "seed")
    with tempfile.TemporaryDirectory() as tmp:
        InitAssetBundler(LAMBDA_SRC, manifest).try_bundle(tmp)
        files = [p for p in Path(tmp).rglob("*") if p.is_file()]
        size = sum(p.stat().st_size for p in files)
        manifest_kib = (Path(tmp) / "manifest.json").stat().st_size / 1024
        print(f"   asset: {len(files)} files, {size / 1024:.1f} KiB ({manifest_kib:.1f} KiB manifest); "
              "nothing pip-installed: boto3 comes with the runtime")  # fmt: skip
        timed = "t = time.perf_counter(); import schema_init.handler; print(time.perf_counter() - t)"

        def import_seconds(preload: str) -> float:
            code = f"import time{preload}; {timed}"
            env = {**os.environ, "PYTHONPATH": tmp}
            result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
            return float(result.stdout)

        samples = [import_seconds("") for _ in range(5)]
        # The Lambda runtime has botocore and logging loaded before the handler module is imported.
        own_samples = [import_seconds(", logging, botocore.exceptions") for _ in range(5)]
    print(f"   cold import: median {statistics.median(samples) * 1000:.0f} ms including botocore, "
          f"{statistics.median(own_samples) * 1000:.1f} ms for this project's modules "
          "(botocore and logging preloaded, as in the Lambda runtime)")  # fmt: skip


def idle_cost() -> None:
    heading(5, "idle monthly cost", "read from each profile's synthesized template x the price table in bench/run.py")
    import aws_cdk as cdk

    from stacks.database_stack import build_database_stack

    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    for profile in ("dev", "prod"):
        app = cdk.App(context={**context, "profile": profile})
        stack = build_database_stack(app)
        template = app.synth().get_stack_by_name(stack.stack_name).template
        lines = estimate(template)
        total = sum(cost for _, cost in lines)
        print(f"   {profile}: ${total:.2f}/month")
        for label, cost in lines:
            print(f"      ${cost:7.2f}  {label}")


def estimate(template: dict) -> list[tuple[str, float]]:
    resources = list(template["Resources"].values())

    def of(kind: str) -> list[dict]:
        return [r for r in resources if r["Type"] == kind]

    lines = []
    clusters = of("AWS::RDS::DBCluster")
    instances = [i for i in of("AWS::RDS::DBInstance") if i["Properties"].get("DBInstanceClass") == "db.serverless"]
    for cluster in clusters:
        scaling = cluster["Properties"].get("ServerlessV2ScalingConfiguration", {})
        minimum = float(scaling.get("MinCapacity", 0.5))
        acu_hours = minimum * len(instances) * HOURS_PER_MONTH
        note = "auto-paused when idle" if minimum == 0 else f"{minimum} ACU x {len(instances)} instance(s) always on"
        lines.append((f"Aurora compute ({note})", acu_hours * PRICES["acu_hour"]))
        lines.append(
            (f"Aurora storage (assumed {ASSUMED_STORAGE_GB} GB)", ASSUMED_STORAGE_GB * PRICES["storage_gb_month"])
        )
        if cluster["Properties"].get("ManageMasterUserPassword"):
            lines.append(("RDS-managed master secret", PRICES["secret_month"]))
    monitored = [i for i in instances if i["Properties"].get("MonitoringInterval")]
    if monitored:
        gb = len(monitored) * ASSUMED_MONITORING_GB_PER_INSTANCE
        lines.append(
            (f"enhanced monitoring, {len(monitored)} instance(s) (≈{gb:.2f} GB logs)", gb * PRICES["log_ingest_gb"])
        )
    insights = [i for i in instances if i["Properties"].get("EnablePerformanceInsights")]
    if insights:
        lines.append((f"Performance Insights / Database Insights standard, {len(insights)} instance(s), 7 days", 0.0))
    alarms = of("AWS::CloudWatch::Alarm")
    if alarms:
        lines.append((f"{len(alarms)} CloudWatch alarm(s)", len(alarms) * PRICES["alarm_month"]))
    if of("AWS::SNS::Topic"):
        lines.append(("SNS alarm topic (email deliveries within the free tier)", 0.0))
    secrets = of("AWS::SecretsManager::Secret")
    if secrets:
        lines.append((f"{len(secrets)} Secrets Manager secret(s)", len(secrets) * PRICES["secret_month"]))
    nats = of("AWS::EC2::NatGateway")
    lines.append((f"{len(nats)} NAT gateway(s)", len(nats) * PRICES["nat_gateway_hour"] * HOURS_PER_MONTH))
    endpoints = [e for e in of("AWS::EC2::VPCEndpoint") if e["Properties"].get("VpcEndpointType") == "Interface"]
    az_hours = sum(len(e["Properties"].get("SubnetIds", [])) for e in endpoints) * HOURS_PER_MONTH
    lines.append((f"{len(endpoints)} interface endpoint(s)", az_hours * PRICES["interface_endpoint_az_hour"]))
    keys = of("AWS::KMS::Key")
    lines.append((f"{len(keys)} customer-managed KMS key(s)", len(keys) * PRICES["kms_key_month"]))
    plans = of("AWS::Backup::BackupPlan")
    if plans:
        # Continuous backup + 35 daily and 12 monthly snapshots of a small, slowly changing database:
        # incremental storage, assumed about twice the database size.
        gb = 2 * ASSUMED_STORAGE_GB
        lines.append(
            (f"AWS Backup recovery points (assumed {gb} GB) and a locked vault", gb * PRICES["backup_gb_month"])
        )
    groups = of("AWS::Logs::LogGroup")
    lines.append(
        (
            f"{len(groups)} log groups (assumed {ASSUMED_IDLE_LOG_GB_PER_GROUP * 1000:.0f} MB/month each while idle)",
            len(groups) * ASSUMED_IDLE_LOG_GB_PER_GROUP * PRICES["log_ingest_gb"],
        )
    )
    return lines


def main() -> None:
    print("Alex database benchmarks (figures, not pass/fail)")
    manifest = build_manifest(ROOT / "migrations", ROOT / "seed")
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(Path(tmp) / "pg", persistent=False)
        try:
            data_api_calls(server, manifest)
            large_job_calls(server, manifest)
            course_web_app(server, manifest)
            local_data_api_overhead(server)
            local_init_time(server, manifest)
        finally:
            stop_server(server.data_dir)
    synth_time()
    asset_and_import()
    idle_cost()
    suite_time()


def suite_time() -> None:
    import re

    heading(8, "Test suite (`make test`, warm)", "lint + pytest exactly as the README's command runs them, timed once")
    started = time.monotonic()
    result = subprocess.run(["make", "--no-print-directory", "test"], cwd=ROOT, capture_output=True, text=True,
                            check=False)  # fmt: skip
    elapsed = time.monotonic() - started
    # One summary line per pytest run (`make test-infra` and `make test-database` run side by side).
    runs = re.findall(r"^=+ (.*?) in ([\d.]+)s", result.stdout, flags=re.M)
    outcome = re.compile(r"(\d+) (passed|failed|errors?)")
    counts = [(int(n), what) for summary, _ in runs for n, what in outcome.findall(summary)]
    passed = sum(n for n, what in counts if what == "passed")
    failed = sum(n for n, what in counts if what != "passed")
    inner = " and ".join(f"{float(seconds):.0f} s" for _, seconds in runs) or "no pytest summary"
    verdict = "" if result.returncode == 0 and not failed else f", {failed} failed (exit {result.returncode})"
    print(
        f"   {passed} tests passed{verdict} in {elapsed:.0f} s wall (pytest runs side by side: {inner}) "
        f"on {os.cpu_count()} core(s); target <= 60 s"
    )


if __name__ == "__main__":
    main()

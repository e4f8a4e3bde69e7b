"""Support for the web app's browser tests: the whole stack on free ports, headless Debian Chromium
driven by Playwright, axe-core for accessibility, screenshots into test-artifacts/; a signed-in API
client and a signed-in page for the call tests.

WebRTC needs a network namespace holding only our own interfaces (RUNTIME.md): `run_isolated()`
re-runs a test module under `unshare -n`, with loopback holding a second address (aioice skips
127.0.0.1, so the server-side recorder needs another host address; no kernel module is needed).
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pyotp

from deploy.local.children import S3_OFFSETS, free_port, free_port_block
from deploy.local.run import Options, RunError, Stack, service_env
from tests.support.gateway import previous_step_code

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "webapp"
AXE_CACHE = ROOT / "test-artifacts" / "axe-core"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--use-fake-device-for-media-stream",
                  "--use-fake-ui-for-media-stream", "--allow-loopback-in-peer-connection",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--no-first-run", "--disable-quic"]
PASSWORD = "correct horse battery staple"
ISOLATED_ENV = "TANDEM_WEBAPP_ISOLATED"


def chromium_missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return "Debian chromium is not installed (apt-get install -y chromium chromium-driver)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e .[dev])"
    return None


def in_private_netns() -> bool:
    return os.environ.get(ISOLATED_ENV) == "1"


def can_unshare() -> bool:
    return os.geteuid() == 0 and shutil.which("unshare") is not None and shutil.which("ip") is not None


def run_isolated(module: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run one pytest module inside a private network namespace; returns the finished process."""
    script = ("ip link set lo up && ip addr add 10.203.0.1/32 dev lo "
              "&& exec \"$0\" -m pytest -q -p no:cacheprovider -x \"$1\"")
    env = {**os.environ, ISOLATED_ENV: "1"}
    return subprocess.run(["unshare", "-n", "sh", "-c", script, sys.executable, str(module)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)


@dataclass
class RunningStack:
    stack: Stack
    opts: Options

    @property
    def url(self) -> str:
        return self.opts.url("gateway")

    def gateway_env(self) -> dict[str, str]:
        s = self.stack
        return {**os.environ, **service_env("gateway", self.opts, s.redis_url, s.s3_endpoint, s.s3_keys)}

    def bootstrap_admin(self, email: str, name: str, *, force: bool = False) -> str:
        """A one-time set-password link for a new admin (the operator CLI)."""
        cmd = [sys.executable, "-m", "services.gateway", "bootstrap-admin", "--email", email, "--name", name]
        if force:
            cmd.append("--force")
        out = subprocess.run(cmd, env=self.gateway_env(), capture_output=True, text=True, check=True, cwd=ROOT,
                             timeout=60)
        return str(json.loads(out.stdout.strip().splitlines()[-1])["invitation_url"])


def start_stack(var_dir: Path, attempts: int = 3, extra_env: dict[str, str] | None = None) -> Iterator[RunningStack]:
    """The whole stack on free ports (retried: a port picked free can be taken before a child binds it)."""
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith(("GATEWAY_", "SESSIONS_", "RECORDS_",
                                                                             "REPORTS_"))}
    try:
        for attempt in range(attempts):
            base = free_port_block((0, 1, 2, 3))
            opts = Options(var_dir=var_dir / str(attempt), redis_url=None, redis_port=free_port(),
                           s3_base_port=free_port_block(S3_OFFSETS), port_base=base, ready_timeout=90, extra_env={
                               "GATEWAY_ISSUER": f"http://127.0.0.1:{base}",
                               # Weakened for speed in tests only (insecure_fast_argon2): never in production.
                               "GATEWAY_ARGON2_TIME_COST": "1", "GATEWAY_ARGON2_MEMORY_KIB": "8192",
                               "GATEWAY_ARGON2_PARALLELISM": "1",
                               "GATEWAY_AUTH_RATE_LIMIT_PER_IP": "1000",
                           } | (extra_env or {}))
            stack = Stack(opts)
            try:
                stack.start()
            except RunError:
                if attempt == attempts - 1:
                    raise
                continue
            try:
                yield RunningStack(stack, opts)
            finally:
                stack.stop()
            return
    finally:
        os.environ.update(saved)


def totp_now(secret: str, after: int | None = None) -> tuple[str, int]:
    """The current code and its time step; waits for a later step than `after` (a code works once)."""
    totp = pyotp.TOTP(secret)
    while True:
        step = int(time.time()) // 30
        if after is None or step > after:
            return totp.now(), step
        time.sleep(0.5)


class Browser:
    """One Chromium process; pages get their own contexts (separate cookie jars)."""

    def __init__(self) -> None:
        from playwright.sync_api import sync_playwright

        self._pw = sync_playwright().start()
        self.browser = self._pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)

    def page(self, base_url: str, *, width: int = 1200, height: int = 900, timezone_id: str | None = None,
             locale: str | None = None) -> Any:
        """A page in a context of its own; `timezone_id` / `locale` stand for the browser's (else the host's)."""
        extra: dict[str, Any] = {k: v for k, v in (("timezone_id", timezone_id), ("locale", locale)) if v}
        context = self.browser.new_context(base_url=base_url, viewport={"width": width, "height": height},
                                           permissions=["camera", "microphone", "clipboard-read",
                                                        "clipboard-write"], **extra)
        page = context.new_page()
        page.set_default_timeout(15_000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        # CSP refusals show up as console errors: the app must never need an inline script or style.
        page.on("console", lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None)
        page.js_errors = errors  # type: ignore[attr-defined]
        return page

    def close(self) -> None:
        self.browser.close()
        self._pw.stop()


def shot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def axe_source() -> str:
    """axe-core's browser bundle: AXE_CORE_JS, a cache under test-artifacts/, or `npm install` into it."""
    given = os.environ.get("AXE_CORE_JS")
    candidates = [Path(given)] if given else []
    candidates += [AXE_CACHE / "node_modules" / "axe-core" / "axe.min.js",
                   Path("/tmp/axe/node_modules/axe-core/axe.min.js")]  # noqa: S108 - read-only dev cache
    for path in candidates:
        if path.exists():
            return path.read_text()
    if shutil.which("npm"):
        AXE_CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(AXE_CACHE),
                        "axe-core@4"], check=True, timeout=180, capture_output=True)
        return (AXE_CACHE / "node_modules" / "axe-core" / "axe.min.js").read_text()
    raise RuntimeError("axe-core not found: set AXE_CORE_JS or install npm")


def axe_violations(page: Any, source: str) -> list[dict[str, Any]]:
    """Serious and critical axe-core violations on the current page (WCAG 2.x A/AA rules)."""
    # Evaluated through CDP, which the page's CSP (script-src 'self') does not apply to; a <script> tag
    # would be refused, as it should be.
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(source + "\n;true")
    result = page.evaluate("""async () => {
        const tags = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
        const r = await axe.run(document, {runOnly: {type: 'tag', values: tags}});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                       nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
    }""")
    return [v for v in result if v["impact"] in ("serious", "critical")]


def check_a11y(page: Any, axe: str, name: str) -> None:
    """No serious or critical axe-core violation on the page (`name` says which page failed)."""
    bad = axe_violations(page, axe)
    assert not bad, f"{name}: {bad}"


def check_page(page: Any, axe: str, name: str) -> None:
    """`check_a11y`, and no JavaScript error (nor CSP refusal) on the page so far."""
    check_a11y(page, axe, name)
    assert not page.js_errors, page.js_errors


def token_of(invitation_url: str) -> str:
    match = re.search(r"#token=([^&]+)", invitation_url)
    assert match, invitation_url
    return match.group(1)


# -- driving the stack: API clients and signed-in pages ---------------------------------------------------


class Api:
    """A signed-in API client (the session cookie is sent by hand: it is Secure, and this is plain http)."""

    opened: list[httpx.Client] = []  # closed by the fixture that made them

    def __init__(self, base: str, email: str, secret: str | None = None) -> None:
        self.http = httpx.Client(base_url=base, timeout=30)
        Api.opened.append(self.http)
        body = {"email": email, "password": PASSWORD, "totp_code": pyotp.TOTP(secret).now() if secret else None}
        resp = self.http.post("/auth/login", json=body)
        resp.raise_for_status()
        self.http.headers["cookie"] = resp.headers["set-cookie"].split(";", 1)[0]
        self.http.headers["x-csrf-token"] = resp.json()["csrf_token"]
        self.user_id: str = resp.json()["user_id"]

    def call(self, method: str, path: str, body: Any = None, ok: tuple[int, ...] = (200, 201)) -> Any:
        resp = self.http.request(method, path, json=body)
        assert resp.status_code in ok, (path, resp.status_code, resp.text[:300])
        return resp.json() if resp.content else None


def accept_invitation(base: str, url: str) -> str | None:
    resp = httpx.post(f"{base}/auth/invitations/accept", json={"token": token_of(url), "password": PASSWORD})
    resp.raise_for_status()
    uri = resp.json().get("totp_uri")
    if not uri:
        return None
    secret: str = pyotp.parse_uri(uri).secret
    confirmed = httpx.post(f"{base}/auth/second-factor/confirmation", json={
        "email": resp.json()["email"], "password": PASSWORD, "totp_code": previous_step_code(secret)})
    confirmed.raise_for_status()
    return secret


def enrol_in_page(page: Any, *, shot_as: str | None = None) -> tuple[str, list[str]]:
    """On the authenticator step of the web app: read the key shown, confirm it with a code (the previous
    time step's, so the current one is free for signing in), save the recovery codes and go on to sign in.
    Returns the key and the recovery codes."""
    page.get_by_role("heading", name="Set up your authenticator app").wait_for()
    page.locator("svg#totp-qr path").first.wait_for()
    if shot_as:
        shot(page, shot_as)
    secret = page.inner_text("#totp-secret").replace(" ", "").strip()
    page.get_by_label("Code from your authenticator app").fill(previous_step_code(secret))
    page.get_by_role("button", name="Confirm").click()
    page.get_by_role("heading", name="Save your recovery codes").wait_for()
    codes = [c.strip() for c in page.locator("#recovery-codes li").all_inner_texts()]
    page.get_by_label("I have saved these codes somewhere safe, away from my phone.").check()
    page.get_by_role("button", name="Continue to sign in").click()
    page.get_by_role("heading", name="Sign in to Tandem").wait_for()
    return secret, codes


def eventually(fn: Any, what: str, tries: int = 80) -> Any:
    for _ in range(tries):
        result = fn()
        if result:
            return result
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def signed_in_page(browser: Browser, stack: RunningStack, email: str, totp: tuple[str, int | None] | None = None,
                   **context: Any) -> Any:
    """Signed in through the sign-in page (agreements accepted on the way); `context`: `Browser.page`'s options."""
    page = browser.page(stack.url, **context)
    page.goto("/")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    if totp:
        page.get_by_label("Authenticator code (if you have one)").fill(totp_now(*totp)[0])
    page.get_by_role("button", name="Sign in").click()
    page.locator("h1", has_text="Hello").or_(page.locator("h1", has_text="Programme agreements")).wait_for()
    if page.locator("h1", has_text="Programme agreements").count():
        page.get_by_role("checkbox").first.wait_for()
        for box in page.get_by_role("checkbox").all():
            box.check()
        for button in page.get_by_role("button", name="Accept").all():
            button.click()
    page.get_by_role("heading", name="Hello", exact=False).wait_for()
    return page


def playing(page: Any, selector: str) -> bool:
    return bool(page.evaluate(f"() => {{ const v = document.querySelector('{selector}');"
                              " return !!v && v.videoWidth > 0 && v.readyState >= 2; }"))


class PageApi(Api):
    """The API as a signed-in browser page is: its session cookie and CSRF token (no second sign-in, so
    no second authenticator code for an admin or officer)."""

    def __init__(self, page: Any, base: str) -> None:  # no sign-in of its own, on purpose
        self.http = httpx.Client(base_url=base, timeout=30)
        Api.opened.append(self.http)
        self.http.headers["cookie"] = "; ".join(f"{c['name']}={c['value']}" for c in page.context.cookies())
        resp = self.http.get("/auth/session")
        resp.raise_for_status()
        self.http.headers["x-csrf-token"] = resp.json()["csrf_token"]
        self.user_id = resp.json()["user_id"]


def service_token(stack: RunningStack, name: str = "recorder") -> str:
    """A bearer token of a new service account (client credentials), as the sessions recorder gets one."""
    out = subprocess.run([sys.executable, "-m", "services.gateway", "create-client", "--name", name,
                          "--grant", "client_credentials", "--scope", "api"], env=stack.gateway_env(), cwd=ROOT,
                         capture_output=True, text=True, check=True, timeout=60)
    client = json.loads(out.stdout.strip().splitlines()[-1])
    resp = httpx.post(f"{stack.url}/oauth/token", data={"grant_type": "client_credentials", "scope": "api"},
                      auth=(client["client_id"], client["client_secret"]), timeout=30)
    resp.raise_for_status()
    return str(resp.json()["access_token"])


def upload_recording(stack: RunningStack, token: str, session_id: str, pairing_id: str, body: bytes) -> str:
    """Store a recording of a session as the recorder would (through the gateway's proxy); its id."""
    meta = {"session_id": session_id, "pairing_id": pairing_id, "recording_id": "test-recording",
            "consent_evidence": {"recording_id": "test-recording", "consent": []}}
    encoded = base64.urlsafe_b64encode(json.dumps(meta).encode()).rstrip(b"=").decode()
    resp = httpx.post(f"{stack.url}/api/records/internal/recordings", content=body, timeout=60,
                      headers={"authorization": f"Bearer {token}", "content-type": "video/webm",
                               "tandem-recording": encoded})
    assert resp.status_code == 201, resp.text[:300]
    return str(resp.json()["id"])

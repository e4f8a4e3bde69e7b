"""The web app sends anonymous reports without credentials: its API module run under Node with fetch
recorded (no browser needed), and the concern pages checked to send every anonymous request through it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

JS = Path(__file__).resolve().parents[2] / "services" / "gateway" / "web" / "static" / "js"

HARNESS = """
const calls = [];
globalThis.window = { dispatchEvent() {} };
globalThis.CustomEvent = class { constructor(type) { this.type = type; } };
globalThis.fetch = async (path, init) => {
  calls.push({ path, credentials: init.credentials, referrerPolicy: init.referrerPolicy || null,
               headers: Object.fromEntries(Object.entries(init.headers).map(([k, v]) => [k.toLowerCase(), v])) });
  return new Response('{}', { status: 201, headers: { 'content-type': 'application/json' } });
};
const api = await import(process.argv[1]);
api.setCsrf('csrf-of-the-session');
await api.post('/api/reports/concerns', { anonymous: false });
await api.anonymousPost('/api/reports/concerns', { anonymous: true });
await api.anonymousGet('/api/reports/receipt', { headers: { 'tandem-receipt': 'r' } });
await api.anonymousPost('/api/reports/receipt/messages', { text: 'x' }, { headers: { 'tandem-receipt': 'r' } });
console.log(JSON.stringify(calls));
"""


def test_anonymous_requests_carry_no_credentials() -> None:
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        pytest.skip("Node.js is not installed (Debian: nodejs)")
    out = subprocess.run([node, "--input-type=module", "-e", HARNESS, (JS / "api.js").as_uri()],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    identified, *anonymous = json.loads(out)
    assert identified["credentials"] == "same-origin" and identified["headers"]["x-csrf-token"]
    for call in anonymous:
        assert call["credentials"] == "omit", call
        assert "x-csrf-token" not in call["headers"] and "cookie" not in call["headers"], call
        assert call["referrerPolicy"] == "no-referrer", call


def test_the_concern_pages_send_anonymous_requests_through_the_anonymous_api() -> None:
    source = (JS / "pages" / "concerns.js").read_text()
    # Every follow-up by receipt, whoever is signed in.
    receipt_calls = re.findall(r"(\w+)\('/api/reports/receipt[^']*'", source)
    assert receipt_calls and set(receipt_calls) <= {"anonymousGet", "anonymousPost"}, receipt_calls
    # The filing: anonymous (the public form, or the box ticked) goes through anonymousPost.
    filing = re.search(r"const send = (.+?);\s*const filed = await send\('/api/reports/concerns'", source, re.S)
    assert filing is not None
    assert filing.group(1).replace(" ", "") == "isAnonymous?anonymousPost:post"
    assert re.search(r"const isAnonymous = publicForm \|\| anonymous\.input\.checked;", source)
    assert "anonymous: isAnonymous" in source
    # No other module reaches the anonymous routes.
    for path in JS.rglob("*.js"):
        if path.name != "concerns.js":
            assert "/api/reports/receipt" not in path.read_text() and \
                "/api/reports/concerns" not in path.read_text(), path

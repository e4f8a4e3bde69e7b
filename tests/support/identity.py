"""Mint identity assertions the way the gateway does, for service-level tests."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from joserfc import jwt
from joserfc.jwk import OKPKey

from shared.identity import ASSERTION_HEADER


@dataclass
class TestIssuer:
    key: OKPKey
    jwks_path: Path
    issuer: str = "tandem-gateway"

    __test__ = False  # not a test class

    @classmethod
    def create(cls, jwks_path: Path, kid: str = "test-key-1") -> TestIssuer:
        key = OKPKey.generate_key("Ed25519", parameters={"kid": kid})
        jwks_path.write_text(json.dumps({"keys": [key.as_dict(private=False)]}))
        return cls(key, jwks_path)

    def token(self, sub: str, roles: list[str], aud: str, *, lifetime: int = 30, iat: int | None = None,
              key: OKPKey | None = None, **extra: Any) -> str:
        now = iat if iat is not None else int(time.time())
        claims = {"iss": self.issuer, "sub": sub, "aud": aud, "roles": roles, "iat": now, "exp": now + lifetime,
                  "jti": uuid.uuid4().hex, "sid": extra.pop("sid", uuid.uuid4().hex), **extra}
        signer = key or self.key
        return jwt.encode({"alg": "Ed25519", "kid": signer.kid}, claims, signer, algorithms=["Ed25519"])

    def headers(self, sub: str, roles: list[str], aud: str, **kw: Any) -> dict[str, str]:
        return {ASSERTION_HEADER: self.token(sub, roles, aud, **kw)}

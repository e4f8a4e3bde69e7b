"""OpenAPI documentation of the OAuth endpoints that read their own form bodies.

They parse `application/x-www-form-urlencoded` themselves (repeated parameters are an error, RFC 6749
§3.1, and every error is an RFC 6749 JSON error body, not problem+json), so Litestar cannot infer the
request body or the error response: each handler gets an `operation_class` that states them."""

from __future__ import annotations

from dataclasses import dataclass

from litestar.enums import ParamType
from litestar.openapi.spec import (
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Parameter,
    Reference,
    RequestBody,
    Schema,
)

FORM = "application/x-www-form-urlencoded"

OAUTH_ERROR = Schema(
    type=OpenAPIType.OBJECT, required=["error"],
    properties={"error": Schema(type=OpenAPIType.STRING, description="RFC 6749 §5.2 error code, e.g. invalid_request,"
                                " invalid_client, invalid_grant, unsupported_grant_type."),
                "error_description": Schema(type=OpenAPIType.STRING, description="Human-readable detail.")})

CLIENT_AUTH = {
    "client_id": "The client (public clients, or confidential ones using client_secret_post).",
    "client_secret": "client_secret_post; or send HTTP Basic (client_secret_basic) instead.",
}


def _error(description: str) -> OpenAPIResponse:
    return OpenAPIResponse(description=description, content={"application/json": OpenAPIMediaType(schema=OAUTH_ERROR)})


BAD_REQUEST = _error("RFC 6749 error (invalid_request, invalid_grant, unsupported_grant_type, ...).")
BAD_CLIENT = _error("Client authentication failed (invalid_client); HTTP Basic clients get WWW-Authenticate.")
TOO_MANY = OpenAPIResponse(description="Too many requests; Retry-After says when to try again.")


def form_operation(fields: dict[str, str], required: tuple[str, ...], ok: str, *, in_query: bool = False,
                   errors: dict[str, OpenAPIResponse] | None = None) -> type[Operation]:
    """An Operation class documenting the request's fields (all strings) as a form body, or as query
    parameters (`in_query`), its success and its RFC 6749 error responses."""
    properties: dict[str, Schema | Reference] = {
        name: Schema(type=OpenAPIType.STRING, description=text) for name, text in fields.items()}
    body = RequestBody(required=True, content={FORM: OpenAPIMediaType(schema=Schema(
        type=OpenAPIType.OBJECT, properties=properties, required=list(required)))})
    query = [Parameter(name=name, param_in=ParamType.QUERY, required=name in required, description=text,
                       schema=Schema(type=OpenAPIType.STRING)) for name, text in fields.items()]
    extra = errors if errors is not None else {"400": BAD_REQUEST, "401": BAD_CLIENT}

    @dataclass
    class FormOperation(Operation):
        def __post_init__(self) -> None:
            if in_query:
                self.parameters = [*(self.parameters or []), *query]
            else:
                self.request_body = body
            responses = dict(self.responses or {})
            first = responses.get("200")
            content = first.content if isinstance(first, OpenAPIResponse) else None
            self.responses = {**responses, "200": OpenAPIResponse(description=ok, content=content), **extra}

    return FormOperation


TOKEN = form_operation({
    "grant_type": "authorization_code, refresh_token or client_credentials.",
    "code": "authorization_code: the code from /oauth/authorize.",
    "redirect_uri": "authorization_code: exactly the redirect_uri of the authorization request.",
    "code_verifier": "authorization_code: the PKCE verifier (S256 challenge only).",
    "refresh_token": "refresh_token: the current refresh token (rotated on use; reuse revokes the family).",
    "scope": "Requested scope (space-separated); a subset of the client's.",
    **CLIENT_AUTH,
}, ("grant_type",), "Access token (and refresh token, ID token where the grant gives them).",
    errors={"400": BAD_REQUEST, "401": BAD_CLIENT, "429": TOO_MANY})

REVOKE = form_operation({
    "token": "A refresh token (revokes its whole family) or an access token.",
    "token_type_hint": "refresh_token or access_token (optional).",
    **CLIENT_AUTH,
}, ("token",), "Revoked, or the token was unknown (RFC 7009 §2.2: the same answer).")

INTROSPECT = form_operation({
    "token": "The token to describe.",
    "token_type_hint": "refresh_token or access_token (optional).",
    **CLIENT_AUTH,
}, ("token",), "RFC 7662 introspection response; {\"active\": false} for any token not valid now.")

_LOGOUT_FIELDS = {
    "id_token_hint": "An ID token this server issued to the client (expired or not).",
    "client_id": "Optional; must match the hint's audience.",
    "post_logout_redirect_uri": "Where to go afterwards (302); must be registered for the client.",
    "state": "Returned to post_logout_redirect_uri unchanged.",
}
_LOGGED_OUT = "Logged out (no post_logout_redirect_uri given; with one, a 302 to it)."
LOGOUT_GET = form_operation(_LOGOUT_FIELDS, ("id_token_hint",), _LOGGED_OUT, in_query=True,
                            errors={"400": BAD_REQUEST})
LOGOUT_POST = form_operation(_LOGOUT_FIELDS, ("id_token_hint",), _LOGGED_OUT, errors={"400": BAD_REQUEST})

"""The OpenAPI document as the API really answers: a bearer security scheme on every authenticated
operation, and every error an operation can answer documented as RFC 9457 problem+json (FastAPI would
document its own HTTPValidationError, which this API never answers)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from service.kit.errors import PROBLEM_JSON, ProblemDetails

# What any authenticated operation may answer besides its success (404 listed for all: a caller cannot
# tell in advance that an object exists).
ANY_ERRORS = {
    "400": "Malformed request (two Authorization headers, a body that is not the expected JSON)",
    "401": "No valid credential (missing, expired, revoked, or naming a tenant that does not exist)",
    "403": "The caller's role may not do this, or its brand is suspended or offboarded",
    "404": "Not found (another brand's object is not found either)",
    "422": "Input that parsed but breaks a rule: `errors` names each field and the reason",
    "429": "Too many calls for this credential: retry after `Retry-After` seconds",
    "503": "The database is unreachable: retry after `Retry-After` seconds",
}
# And what one that takes a body may answer too.
BODY_ERRORS = {
    "409": "Conflicts with what exists (the answer says with what)",
    "413": "The body is larger than this route accepts",
    "415": "Unsupported media type or charset",
}
PUBLIC = {"/healthz", "/readyz"}


def document(schema: dict[str, Any]) -> dict[str, Any]:
    """SCHEMA (FastAPI's document) with the bearer scheme and the problem+json errors."""
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    problem = ProblemDetails.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(problem.pop("$defs", {}))
    schemas["ProblemDetails"] = problem
    components["securitySchemes"] = {"bearer": {
        "type": "http", "scheme": "bearer",
        "description": "A token (`seatwise token issue`, or the one `seatwise serve` printed), an OpenID "
                       "Connect access token, or an API key"}}
    content = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}}
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            responses.pop("422", None)
            if path in PUBLIC:
                responses["503"] = {"description": ANY_ERRORS["503"], "content": content}
                continue
            operation["security"] = [{"bearer": []}]
            errors = {**ANY_ERRORS, **(BODY_ERRORS if method in ("post", "put", "patch") else {})}
            for status, description in errors.items():
                responses[status] = {"description": description, "content": content}
    return schema


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document(get_openapi(title=app.title, version=app.version,
                                                      description=app.description, routes=app.routes))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

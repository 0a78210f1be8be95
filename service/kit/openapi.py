"""The OpenAPI document as the API really answers: a bearer security scheme, and every error an operation
can answer documented as RFC 9457 problem+json (FastAPI would document its own HTTPValidationError)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field

from service.kit.errors import PROBLEM_JSON


class FieldError(BaseModel):
    field: str = Field(description="Where to fix it: `query.to`, `body.name`, ...")
    reason: str


class ProblemDetails(BaseModel):
    """An error (RFC 9457)."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldError] | None = None


# What any authenticated operation may answer besides its success (and 404/409/415 where they apply: listed
# for all, as a caller cannot tell in advance).
ERRORS = {
    "400": "Malformed request (two Authorization headers, a body that is not the expected JSON)",
    "401": "No valid credential (missing, expired, revoked, or naming a tenant that does not exist)",
    "403": "The caller's role may not do this, or its brand is suspended or offboarded",
    "404": "Not found (another brand's object is not found either)",
    "409": "Conflicts with what exists",
    "413": "The body is larger than this route accepts",
    "415": "Unsupported media type or charset",
    "422": "Input that parsed but breaks a rule: `errors` names each field and the reason",
    "429": "Too many calls for this credential: retry after `Retry-After` seconds",
    "503": "The database is unreachable: retry after `Retry-After` seconds",
}


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description,
                             routes=app.routes)
        components = schema.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        ref = "#/components/schemas/{model}"
        schemas["ProblemDetails"] = ProblemDetails.model_json_schema(ref_template=ref)
        for name, sub in schemas["ProblemDetails"].pop("$defs", {}).items():
            schemas[name] = sub
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        components["securitySchemes"] = {"bearer": {
            "type": "http", "scheme": "bearer",
            "description": "A token (`seatwise token issue`), an OpenID Connect access token, or an API key"}}
        problem = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}}
        for path, item in schema.get("paths", {}).items():
            for operation in item.values():
                if not isinstance(operation, dict) or "responses" not in operation:
                    continue
                public = path in ("/healthz", "/readyz")
                if not public:
                    operation["security"] = [{"bearer": []}]
                for status, description in ERRORS.items():
                    if public and status != "503":
                        continue
                    operation["responses"][status] = {"description": description, "content": problem}
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]

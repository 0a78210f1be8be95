"""RFC 9457 problem+json: every error the API answers, in one shape.

Domain code raises the exceptions below, naming the field by the use case's own parameter (`to`, `cursor`,
`seats.series`); each door maps that name to its wire location once: REST here (`query.to`, `body.name`),
GraphQL in service.kit.gql (`to`, `after`, camelCase). Pydantic's errors become `{field, reason}` pairs in
exactly one place, `field_errors`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
_log = logging.getLogger("seatwise.errors")

_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Content too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}


class FieldError(BaseModel):
    field: str = Field(description="Where, as a dotted path: `body.name`, `query.to`, `path.shop_id` "
                       "(GraphQL: the argument's path, camelCase)")
    reason: str = Field(description="What is wrong, in words")


class ProblemDetails(BaseModel):
    """RFC 9457 problem details: the one shape of every error this API answers
    (`application/problem+json`)."""

    type: str = Field(description="A URI naming the kind of problem")
    title: str = Field(description="The status in words")
    status: int = Field(description="The HTTP status")
    detail: str = Field(description="What went wrong, for a person")
    instance: str | None = Field(default=None, description="The request's path")
    errors: list[FieldError] | None = Field(default=None, description="Each field at fault, when input is")


# The errors an operation may answer, all problem+json: any authenticated one, and one with a body.
ANY_ERRORS = (401, 403, 404, 422, 429)
BODY_ERRORS = (409, 413, 415)
PUBLIC = {"/healthz", "/readyz"}


def document_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """The app's OpenAPI document with the bearer security scheme (Swagger's Authorize button) on every
    authenticated operation, and every error it may answer documented as problem+json (FastAPI's own
    HTTPValidationError replaced: this API never answers it)."""
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    problem = ProblemDetails.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(problem.pop("$defs", {}))
    schemas["ProblemDetails"] = problem
    components["securitySchemes"] = {"bearer": {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
        "description": "A token from `seatwise token issue` (or the one `seatwise serve` printed)"}}
    content = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}}
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            if path in PUBLIC:
                continue
            operation["security"] = [{"bearer": []}]
            has_body = method in ("post", "put", "patch")
            for status in (*ANY_ERRORS, *(BODY_ERRORS if has_body else ())):
                responses[str(status)] = {"description": _TITLES[status], "content": content}
    return schema


class Problem(Exception):
    """An error with an HTTP status, a human detail and optional field errors."""

    status = 400
    type_suffix = "bad-request"

    def __init_subclass__(cls, status: int | None = None, suffix: str | None = None, **kwargs: Any) -> None:
        # `class NotFound(Problem, status=404, suffix="not-found")`: a kind of problem in one line.
        super().__init_subclass__(**kwargs)
        if status is not None:
            cls.status = status
        if suffix is not None:
            cls.type_suffix = suffix

    def __init__(self, detail: str, *, errors: list[dict[str, Any]] | None = None, status: int | None = None,
                 extensions: dict[str, Any] | None = None):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        # RFC 9457 extension members (e.g. the shift a booking conflicts with); GraphQL puts them in the
        # error's extensions.
        self.extensions = extensions
        if status is not None:
            self.status = status

    def relocated(self, where: Mapping[str, str] | None = None, rename: Mapping[str, str] | None = None,
                  camel: bool = False) -> Problem:
        """The same problem with its fields at a door's wire locations (see `wire_field`)."""
        if not self.errors:
            return self
        errors = [{**e, "field": wire_field(e["field"], where, rename, camel)} for e in self.errors]
        detail = self.detail
        if len(self.errors) == 1 and detail.startswith(f"{self.errors[0]['field']}: "):
            detail = f"{errors[0]['field']}: {detail.split(': ', 1)[1]}"
        # Not copy.copy: subclasses' __init__ take other arguments.
        moved = Exception.__new__(type(self), detail)
        moved.__dict__.update(self.__dict__)
        moved.detail, moved.errors, moved.args = detail, errors, (detail,)
        return moved


class NotFound(Problem, status=404, suffix="not-found"): ...
class Conflict(Problem, status=409, suffix="conflict"): ...
class Unauthorized(Problem, status=401, suffix="unauthorized"): ...
class Forbidden(Problem, status=403, suffix="forbidden"): ...
class TooLarge(Problem, status=413, suffix="too-large"): ...
class UnsupportedMediaType(Problem, status=415, suffix="unsupported-media-type"): ...


class Invalid(Problem, status=422, suffix="validation"):
    """Input that parsed but breaks a rule; `field` names what to fix (the use case's parameter name)."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}", errors=[{"field": field, "reason": reason}])


def wire_field(field: str, where: Mapping[str, str] | None = None, rename: Mapping[str, str] | None = None,
               camel: bool = False) -> str:
    """FIELD (a dotted path of the use case's names) at its wire location: its first part renamed
    (RENAME, e.g. cursor -> after), prefixed by where it travels (WHERE, e.g. to -> query), and each part
    camelCased for GraphQL."""
    head, _, rest = field.partition(".")
    head = (rename or {}).get(head, head)
    parts = [head, *rest.split(".")] if rest else [head]
    if camel:
        parts = [_camel(p) for p in parts]
    location = (where or {}).get(head)
    return ".".join([location, *parts] if location and head != location else parts)


def _camel(name: str) -> str:
    first, *others = name.split("_")
    return first + "".join(o[:1].upper() + o[1:] for o in others)


def _reason(error: Mapping[str, Any]) -> str:
    if error.get("type") == "extra_forbidden":
        return "unknown field"
    message = str(error.get("msg", "invalid"))
    # pydantic prefixes the message of a ValueError raised by a validator; the reason is what follows.
    return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def field_errors(errors: Iterable[Mapping[str, Any]], prefix: Sequence[str | int] = ()
                 ) -> list[dict[str, Any]]:
    """Pydantic (or FastAPI) errors as `{field, reason}`: the location as a dotted path after PREFIX."""
    return [{"field": ".".join(str(p) for p in (*prefix, *e.get("loc", ()))) or "body", "reason": _reason(e)}
            for e in errors]


def summary(errors: Sequence[Mapping[str, Any]]) -> str:
    return "; ".join(f"{e['field']}: {e['reason']}" for e in errors[:5]) or "invalid request"


def problem_response(
    status: int, detail: str, *, type_suffix: str | None = None, errors: list[dict[str, Any]] | None = None,
    instance: str | None = None, headers: dict[str, str] | None = None,
    extensions: dict[str, Any] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "https://seatwise.dev/problems/"
                f"{type_suffix or _TITLES.get(status, 'error').lower().replace(' ', '-')}",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = errors
    for key, value in (extensions or {}).items():
        body.setdefault(key, value)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _rest_locations(request: Request) -> dict[str, str]:
    """Where each parameter of the matched route travels: query or path (by its wire name and its Python
    name), everything else in the body."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    where: dict[str, str] = {}
    stack = [dependant] if dependant is not None else []
    while stack:
        d = stack.pop()
        for kind, params in (("query", d.query_params), ("path", d.path_params), ("header", d.header_params)):
            for p in params:
                where[p.alias] = where[p.name] = kind
        stack.extend(d.dependencies)
    return where


def rest_problem(request: Request, exc: Problem) -> Problem:
    """EXC with each field at its REST location: a query or path parameter by its name, `body` as is,
    any other name inside the body."""
    if not exc.errors:
        return exc
    where = _rest_locations(request)
    for e in exc.errors:
        head = e["field"].split(".", 1)[0]
        if head not in where and head != "body":
            where[head] = "body"
    return exc.relocated(where)


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        exc = rest_problem(request, exc)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return problem_response(exc.status, exc.detail, type_suffix=exc.type_suffix, errors=exc.errors,
                                instance=request.url.path, headers=headers,
                                extensions=getattr(exc, "extensions", None))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = field_errors(exc.errors())
        return problem_response(422, summary(errors), type_suffix="validation", errors=errors,
                                instance=request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(exc.status_code, str(exc.detail), instance=request.url.path,
                                headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Never echo internals (SQL, secrets) to the caller; the log has them.
        _log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(500, "an unexpected error occurred", instance=request.url.path)

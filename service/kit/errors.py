"""RFC 9457 problem+json: every error the API answers, in one shape.

Domain code raises the exceptions below; the handlers installed by `install` turn them (and
FastAPI's own validation and HTTP errors) into `application/problem+json` bodies.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
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
    500: "Internal server error",
    503: "Service unavailable",
}


class Problem(Exception):
    """An error with an HTTP status, a human detail and optional field errors."""

    status = 400
    type_suffix = "bad-request"

    def __init__(self, detail: str, *, errors: list[dict[str, Any]] | None = None, status: int | None = None):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        if status is not None:
            self.status = status


class NotFound(Problem):
    status = 404
    type_suffix = "not-found"


class Conflict(Problem):
    status = 409
    type_suffix = "conflict"


class Unauthorized(Problem):
    status = 401
    type_suffix = "unauthorized"


class Forbidden(Problem):
    status = 403
    type_suffix = "forbidden"


class Invalid(Problem):
    """Input that parsed but breaks a rule; `field` names what to fix."""

    status = 422
    type_suffix = "validation"

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}", errors=[{"field": field, "reason": reason}])


class TooLarge(Problem):
    status = 413
    type_suffix = "too-large"


def problem_response(
    status: int, detail: str, *, type_suffix: str | None = None, errors: list[dict[str, Any]] | None = None,
    instance: str | None = None, headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"https://seatwise.dev/problems/{type_suffix or _TITLES.get(status, 'error').lower().replace(' ', '-')}",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field_of(loc: tuple[Any, ...]) -> str:
    # FastAPI locations start with where the value came from (body, query, path, header).
    return ".".join(str(part) for part in loc) or "body"


def validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    errors = []
    for err in exc.errors():
        reason = err.get("msg", "invalid")
        if err.get("type") == "extra_forbidden":
            reason = "unknown field"
        errors.append({"field": _field_of(tuple(err.get("loc", ()))), "reason": reason})
    return errors


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return problem_response(exc.status, exc.detail, type_suffix=exc.type_suffix, errors=exc.errors,
                                instance=request.url.path, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = validation_errors(exc)
        detail = "; ".join(f"{e['field']}: {e['reason']}" for e in errors[:5])
        return problem_response(422, detail or "invalid request", type_suffix="validation", errors=errors,
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

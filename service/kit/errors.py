"""RFC 9457 problem+json: every error the API answers, in one shape.

Domain code raises the exceptions below, naming the field by the use case's own parameter (`to`, `cursor`,
`seats.series`); each door maps that name to its wire location once: REST here (`query.to`, `body.name`),
GraphQL in service.kit.gql (`to`, `after`, camelCase). Pydantic's errors become `{field, reason}` pairs in
exactly one place, `field_errors`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
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

    headers: dict[str, str] | None = None

    def __init__(self, detail: str, *, errors: list[dict[str, Any]] | None = None, status: int | None = None,
                 extensions: dict[str, Any] | None = None, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        # RFC 9457 extension members (e.g. the shift a booking conflicts with); GraphQL puts them in the
        # error's extensions.
        self.extensions = extensions
        if status is not None:
            self.status = status
        if headers is not None:
            self.headers = headers

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
class BadRequest(Problem, status=400, suffix="bad-request"): ...


class TooManyRequests(Problem, status=429, suffix="rate-limited"):
    def __init__(self, detail: str, retry_after: int):
        super().__init__(detail, headers={"Retry-After": str(max(1, retry_after))})


class Unavailable(Problem, status=503, suffix="unavailable"):
    """The database cannot be reached: the caller should retry after a while (recovery needs no restart)."""

    def __init__(self, detail: str = "the database is not reachable; retry shortly", retry_after: int = 5):
        super().__init__(detail, headers={"Retry-After": str(retry_after)})


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


# SQLSTATEs of a lost or refused connection (class 08) and of a server shutting down or starting (57P0x).
_OUTAGE_STATES = ("08", "57P01", "57P02", "57P03")
# Text PostgreSQL cannot hold (NUL in text, \u0000 in jsonb): the safety net behind the Text type.
_CHARACTER_STATES = ("22021", "22P05")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        stack += [e.__cause__, e.__context__, getattr(e, "orig", None)]


def as_problem(exc: BaseException) -> Problem | None:
    """The problem an unexpected exception really is, when it is one we know: the database unreachable
    (503 with Retry-After) or text the database cannot store (422). None for a real fault."""
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    for e in _chain(exc):
        if isinstance(e, Problem):
            return e
        state = str(getattr(e, "sqlstate", "") or "")
        if state.startswith(_OUTAGE_STATES) or isinstance(e, ConnectionError | PoolTimeout) or (
                type(e).__module__.startswith("asyncpg") and type(e).__name__ in _ASYNCPG_OUTAGE):
            return Unavailable()
        if isinstance(e, OSError) and type(e).__module__ == "builtins" and e.errno is not None:
            return Unavailable()  # connecting failed: refused, no socket, unreachable
        if state in _CHARACTER_STATES or isinstance(e, UnicodeEncodeError):
            return Invalid("body", "holds a NUL character or a lone surrogate: send UTF-8 text")
    return None


_ASYNCPG_OUTAGE = {"ConnectionDoesNotExistError", "InterfaceError", "InternalClientError",
                   "ConnectionFailureError", "CannotConnectNowError", "TooManyConnectionsError"}


class Throttled:
    """A log line at most once per WINDOW seconds (a database outage would otherwise log every request);
    the next line says how many were left out."""

    def __init__(self, log: logging.Logger, window: float = 30.0):
        self.log, self.window = log, window
        self.last = -window
        self.skipped = 0

    def warning(self, message: str, *args: Any) -> None:
        now = time.monotonic()
        if now - self.last < self.window:
            self.skipped += 1
            return
        suffix = f" ({self.skipped} more since the last report)" if self.skipped else ""
        self.last, self.skipped = now, 0
        self.log.warning(message + suffix, *args)


outage_log = Throttled(_log)


def report(problem: Problem, exc: BaseException) -> None:
    """Log a known problem met as an exception: an outage once per window, anything else not at all (the
    request log has its one line)."""
    if isinstance(problem, Unavailable):
        outage_log.warning("database unreachable: %s: %s", type(exc).__name__, str(exc).splitlines()[:1])


def plain_refusal(message: Any, path: str | None) -> JSONResponse | None:
    """The problem+json to answer instead of the framework's own refusal starting in MESSAGE (the body
    limit's 413, sent before any route runs, as plain text or FastAPI's JSON); None for anything else. The
    outermost middleware (service.kit.observe) swaps it in."""
    if message["type"] != "http.response.start" or message["status"] != 413:
        return None
    kind = dict(message.get("headers", [])).get(b"content-type", b"")
    if kind.startswith(PROBLEM_JSON.encode()):
        return None
    return problem_response(413, "the request body is larger than this route accepts", instance=path)


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return _problem_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = field_errors(exc.errors())
        return problem_response(422, summary(errors), type_suffix="validation", errors=errors,
                                instance=request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(exc.status_code, str(exc.detail), instance=request.url.path,
                                headers=getattr(exc, "headers", None))

    async def _database(request: Request, exc: Exception) -> JSONResponse:
        """The database's (and its driver's) errors: an outage is a 503, text it cannot store a 422, and
        anything else a real fault. Handled here, inside the app, so no traceback is logged for the known
        ones (an `Exception` handler runs in the outermost middleware, which re-raises)."""
        known = as_problem(exc)
        if known is not None:
            report(known, exc)
            return _problem_response(request, known)
        _log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return problem_response(500, "an unexpected error occurred", instance=request.url.path)

    for kind in _database_errors():
        app.add_exception_handler(kind, _database)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        known = as_problem(exc)
        if known is not None:
            report(known, exc)
            return _problem_response(request, known)
        # Never echo internals (SQL, secrets) to the caller; the log has them.
        _log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(500, "an unexpected error occurred", instance=request.url.path)


def _database_errors() -> tuple[type[Exception], ...]:
    import asyncpg
    from sqlalchemy.exc import SQLAlchemyError

    return (SQLAlchemyError, asyncpg.PostgresError, asyncpg.InterfaceError,
            asyncpg.exceptions.InternalClientError, OSError, UnicodeEncodeError)


def _problem_response(request: Request, exc: Problem) -> JSONResponse:
    exc = rest_problem(request, exc)
    headers = dict(exc.headers or {})
    if exc.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return problem_response(exc.status, exc.detail, type_suffix=exc.type_suffix, errors=exc.errors,
                            instance=request.url.path, headers=headers or None,
                            extensions=getattr(exc, "extensions", None))

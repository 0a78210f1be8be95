"""REST helpers: the one-object routes of a resource (read one, create, change) and an object's removal,
each declared in one call, so every resource's doors are the same few lines and its OpenAPI operations keep
their names."""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel

from service.kit.access import Caller, Roles, Session


@dataclass(frozen=True)
class Resource:
    """A resource's REST shape: its path, the name and type of its key in the path, the
    noun its operations and use cases are named after (`get_site`, `create_site`, ...), and its read, create
    and update models."""

    path: str
    key: str
    key_type: type
    noun: str
    read: type[BaseModel]
    create: type[BaseModel]
    update: type[BaseModel]


def _endpoint(call: Callable[..., Awaitable[Any]], params: list[inspect.Parameter]) -> Callable[..., Any]:
    async def endpoint(**kwargs: Any) -> Any:
        return await call(**kwargs)

    endpoint.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    return endpoint


def object_routes(router: APIRouter, r: Resource, use_cases: Any, roles: Any,
                  summaries: tuple[str, str, str]) -> None:
    """GET {path}/{key}, POST {path} (201) and PATCH {path}/{key} over the use cases `get_<noun>`,
    `create_<noun>` and `update_<noun>` of USE_CASES (a service module; each takes the caller's session
    first), allowed to `read` and `write` of ROLES (the domain's auth module). A resource whose use cases
    have `read_<noun>(session, caller, key)` reads through it instead, allowed to ROLES' `one`: the object
    is then the caller's to see or not (a client brand its own record)."""
    reader: Callable[..., Awaitable[Any]] | None = getattr(use_cases, f"read_{r.noun}", None)
    get: Callable[..., Awaitable[Any]] = getattr(use_cases, f"get_{r.noun}")
    create: Callable[..., Awaitable[Any]] = getattr(use_cases, f"create_{r.noun}")
    update: Callable[..., Awaitable[Any]] = getattr(use_cases, f"update_{r.noun}")
    kw = inspect.Parameter.KEYWORD_ONLY
    session = inspect.Parameter("session", kw, annotation=Session)
    key = inspect.Parameter(r.key, kw, annotation=r.key_type)
    one = f"{r.path}/{{{r.key}}}"

    async def read_one(session: Any, caller: Any = None, **keys: Any) -> Any:
        if reader is not None:
            return await reader(session, caller, keys[r.key])
        return await get(session, keys[r.key])

    async def create_one(session: Any, body: Any) -> Any:
        return await create(session, body)

    async def update_one(session: Any, body: Any, **keys: Any) -> Any:
        return await update(session, keys[r.key], body)

    body_of = {"create": inspect.Parameter("body", kw, annotation=r.create),
               "update": inspect.Parameter("body", kw, annotation=r.update)}
    read_roles, write_roles = (roles.one if reader else roles.read).rest, roles.write.rest
    caller = inspect.Parameter("caller", kw, annotation=Caller)
    read_params = [session, caller, key] if reader else [session, key]
    router.add_api_route(one, _endpoint(read_one, read_params), methods=["GET"], response_model=r.read,
                         summary=summaries[0], name=f"get_{r.noun}", dependencies=[read_roles])
    router.add_api_route(r.path, _endpoint(create_one, [session, body_of["create"]]), methods=["POST"],
                         response_model=r.read, status_code=201, summary=summaries[1],
                         name=f"create_{r.noun}", dependencies=[write_roles])
    router.add_api_route(one, _endpoint(update_one, [session, key, body_of["update"]]), methods=["PATCH"],
                         response_model=r.read, summary=summaries[2], name=f"update_{r.noun}",
                         dependencies=[write_roles])


def delete_route(router: APIRouter, path: str, key: str, use_case: Callable[..., Awaitable[None]],
                 roles: Roles, summary: str, *, with_caller: bool = False) -> None:
    """DELETE PATH (KEY, a UUID, its last segment) over USE_CASE(session, [caller,] key): 204 once the object
    is gone (an unknown one is the use case's 404), named after the use case, allowed to ROLES."""

    async def delete_one(session: Any, caller: Any = None, **keys: Any) -> Response:
        await (use_case(session, caller, keys[key]) if with_caller else use_case(session, keys[key]))
        return Response(status_code=204)

    kw = inspect.Parameter.KEYWORD_ONLY
    params = [inspect.Parameter("session", kw, annotation=Session),
              *([inspect.Parameter("caller", kw, annotation=Caller)] if with_caller else []),
              inspect.Parameter(key, kw, annotation=uuid.UUID)]
    router.add_api_route(path, _endpoint(delete_one, params), methods=["DELETE"], status_code=204,
                         summary=summary, name=use_case.__name__, dependencies=[roles.rest])

"""What every domain's GraphQL module shares: the per-request context with its DataLoaders,
input validation through the same pydantic models as REST, and problem -> GraphQL error mapping."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry import UNSET
from strawberry.dataloader import DataLoader
from strawberry.extensions import SchemaExtension
from strawberry.fastapi import BaseContext

from graphql import GraphQLError
from service.db import Database
from service.kit.errors import Problem
from tenants.auth import Principal, principal_from_header

P = TypeVar("P", bound=BaseModel)


@dataclass
class GqlContext(BaseContext):
    """Built once per request: loaders never outlive it, so no cache crosses requests or tenants."""

    principal: Principal | None = None
    db: Database | None = None
    _loaders: dict[str, DataLoader] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__()

    @asynccontextmanager
    async def tx(self) -> AsyncIterator[AsyncSession]:
        assert self.principal is not None and self.db is not None  # permission classes ran first
        async with self.db.transaction(self.principal.scope) as session:
            yield session

    def loader(self, name: str, batch: Callable[[AsyncSession, list[Any]], Awaitable[list[Any]]]) -> DataLoader:
        """The request's DataLoader NAME, batching keys into one call of BATCH in one transaction."""
        if name not in self._loaders:
            async def load(keys: list[Any]) -> list[Any]:
                async with self.tx() as session:
                    return await batch(session, list(keys))

            self._loaders[name] = DataLoader(load_fn=load)
        return self._loaders[name]


async def context_getter(request: Request) -> GqlContext:
    state = request.app.state
    header = request.headers.get("authorization")
    # No header: anonymous (GraphiQL loads; every field then refuses). A bad header: 401 at once.
    principal = principal_from_header(state.jwt_secret, header, state.settings.jwt_issuer) if header else None
    return GqlContext(principal=principal, db=state.db)


def validated(model: type[P], data: dict[str, Any]) -> P:
    """Validate a mutation input with the REST model, so both doors accept exactly the same."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [{"field": ".".join(str(p) for p in err["loc"]) or "input",
                   "reason": "unknown field" if err["type"] == "extra_forbidden" else err["msg"]}
                  for err in exc.errors()]
        raise GraphQLError("; ".join(f"{e['field']}: {e['reason']}" for e in errors),
                           extensions={"code": "BAD_USER_INPUT", "status": 422, "errors": errors}) from None


def input_dict(obj: Any) -> dict[str, Any]:
    """A strawberry input as a dict of the fields the caller gave. Null and unset fields are dropped
    (PATCH semantics: GraphQL cannot tell 'leave as is' from 'clear'; REST PATCH can clear)."""
    return {k: v for k, v in vars(obj).items() if v is not None and v is not UNSET}


_CODES = {401: "UNAUTHENTICATED", 403: "FORBIDDEN", 404: "NOT_FOUND", 409: "CONFLICT", 413: "TOO_LARGE",
          422: "BAD_USER_INPUT"}


class ProblemErrors(SchemaExtension):
    """Give domain problems a code and status; hide anything unexpected behind a generic message."""

    def on_execute(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if not result or not result.errors:
            return
        for i, error in enumerate(result.errors):
            original = error.original_error
            if isinstance(original, Problem):
                extensions = {"code": _CODES.get(original.status, "BAD_REQUEST"), "status": original.status}
                if original.errors:
                    extensions["errors"] = original.errors
                result.errors[i] = GraphQLError(original.detail, nodes=error.nodes, path=error.path,
                                                extensions=extensions)
            elif original is not None and not isinstance(original, GraphQLError) and \
                    type(original).__name__ != "PermissionError":
                import logging

                logging.getLogger("seatwise.graphql").error("unhandled resolver error", exc_info=original)
                result.errors[i] = GraphQLError("an unexpected error occurred", nodes=error.nodes, path=error.path,
                                                extensions={"code": "INTERNAL", "status": 500})

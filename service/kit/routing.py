"""The REST routers' class: FastAPI's APIRouter, which also says at once when a request's path cannot be one
of its routes'.

The app tries its included routers in order, and each router tries every one of its routes' patterns: a path
of the seventh router (the SLA reports) was matched against some hundred patterns first, a tenth of a read's
CPU. A route's pattern matches only paths beginning with its literal head (the path up to its first
parameter), so a router none of whose heads begins the path answers "no match" without trying them: the
same answer, in the same order of routers, as trying them would give.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette._utils import get_route_path
from starlette.routing import Match


def _included_prefix(scope: Any) -> str | None:
    """The prefix this router is included under in the app handling SCOPE (None: unknown)."""
    included = scope.get("fastapi", {}).get("included_router")
    context = getattr(included, "include_context", None)
    prefix = getattr(context, "prefix", None)
    return prefix if isinstance(prefix, str) else None


class Router(APIRouter):
    """An APIRouter whose `matches` first checks the path against its routes' literal heads."""

    _heads: tuple[str, ...] | None = None
    _heads_for: tuple[int, str] | None = None

    def _heads_of(self, prefix: str) -> tuple[str, ...] | None:
        """The literal heads of every route under PREFIX; None when some route is not a plain API route (a
        mount, an included router: matched as FastAPI does)."""
        key = (self._get_routes_version(), prefix)
        if self._heads_for != key:
            heads: list[str] | None = []
            for route in self.routes:
                if not isinstance(route, APIRoute):
                    heads = None
                    break
                assert heads is not None
                heads.append(prefix + route.path.split("{", 1)[0])
            self._heads = tuple(heads) if heads is not None else None
            self._heads_for = key
        return self._heads

    def matches(self, scope: Any) -> tuple[Match, Any]:
        if scope.get("type") == "http":
            prefix = _included_prefix(scope)
            heads = self._heads_of(prefix) if prefix is not None else None
            if heads is not None and not get_route_path(scope).startswith(heads):
                return Match.NONE, {}
        return super().matches(scope)

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
    _heads_for: tuple[int, int, str] | None = None
    _flat_for: tuple[int, int] | None = None

    def _shape(self) -> tuple[int, int]:
        """What changes whenever the routes do: the router's own count of changes, and how many it has."""
        return self._routes_version, len(self.routes)

    def _get_routes_version(self, seen: set[int] | None = None) -> int:
        # FastAPI asks every included router for its version on every request, and the version walks the
        # routes for included routers of its own: a router with none answers its own count of changes.
        shape = self._shape()
        if self._flat_for != shape:
            if any(not isinstance(route, APIRoute) for route in self.routes):
                return super()._get_routes_version(seen)
            self._flat_for = shape
        return self._routes_version

    def _heads_of(self, prefix: str) -> tuple[str, ...] | None:
        """The literal heads of every route under PREFIX; None when some route is not a plain API route (a
        mount, an included router: matched as FastAPI does)."""
        key = (*self._shape(), prefix)
        if self._heads_for != key:
            heads = [prefix + route.path.split("{", 1)[0]
                     for route in self.routes if isinstance(route, APIRoute)]
            self._heads = tuple(heads) if len(heads) == len(self.routes) else None
            self._heads_for = key
        return self._heads

    def matches(self, scope: Any) -> tuple[Match, Any]:
        if scope.get("type") == "http":
            prefix = _included_prefix(scope)
            heads = self._heads_of(prefix) if prefix is not None else None
            if heads is not None and not get_route_path(scope).startswith(heads):
                return Match.NONE, {}
        return super().matches(scope)


def memoize_sequence_checks() -> None:
    """FastAPI asks, for every query, header and cookie parameter of every request, twice, whether the
    parameter's annotation is a sequence: a walk of the annotation (its union's members, their origins and
    classes) that answered the same each time and cost a few per cent of a cached read. The answer is kept
    per annotation (one that cannot be a dictionary key is walked as before)."""
    from fastapi.dependencies import utils

    check = utils.field_annotation_is_sequence  # type: ignore[attr-defined]
    if getattr(check, "_seatwise_memo", False):
        return
    known: dict[Any, bool] = {}

    def field_annotation_is_sequence(annotation: Any) -> bool:
        try:
            return known[annotation]
        except KeyError:
            answer = known[annotation] = check(annotation)
            return answer
        except TypeError:  # unhashable
            return check(annotation)

    field_annotation_is_sequence._seatwise_memo = True  # type: ignore[attr-defined]
    utils.field_annotation_is_sequence = field_annotation_is_sequence  # type: ignore[attr-defined]

"""What every domain's GraphQL module shares.

- The per-request context, with its DataLoaders (never shared across requests, so never across tenants).
- `field` / `mutation`: a resolver with its domain's `Roles` (declared once, in `<domain>/auth.py`), which
  receives `caller: Caller`, `session: Session` and `sessions: Sessions` exactly like a REST handler does
  (service.kit.access): the session is a transaction in the caller's scope around the resolver.
- Shapes derived from the pydantic models, declared once in each domain's schemas.py: `read_type` (object
  types and interfaces), `create_input`, `update_input` (an omitted field stays unchanged, an explicit null
  clears it, as REST PATCH does), `validated` (the REST model's validation, errors at GraphQL locations).
- The mutations every domain would otherwise write alike: `object_mutations` (create and update),
  `delete_mutation`, `ingest_mutation` (a small batch through an ingest feed).
- One generic `Page` type, and problem -> GraphQL error mapping.
"""

from __future__ import annotations

import copy
import enum
import functools
import inspect
import json
import logging
import types
import typing
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Annotated, Any, Generic, TypeVar, cast, get_origin

import orjson
import strawberry
from cross_web import HTTPException as StrawberryHTTPException
from fastapi import Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry import UNSET
from strawberry.dataloader import DataLoader
from strawberry.extensions import SchemaExtension
from strawberry.fastapi import BaseContext, GraphQLRouter
from strawberry.types import ExecutionResult, Info
from strawberry.types.base import get_object_definition

from graphql import GraphQLError, GraphQLID, GraphQLString
from service.kit.access import INJECTED, Caller, Roles, Session, authorization_of, principal_of, verify
from service.kit.db import Database
from service.kit.docs import GRAPHIQL_PAGE
from service.kit.errors import (
    BadRequest,
    Invalid,
    Problem,
    Unavailable,
    as_problem,
    field_errors,
    report,
    summary,
)
from service.kit.identity import Principal
from service.kit.pagination import Paged, PageRequest, check_limit
from service.kit.types import NOT_TEXT, storable_text

T = TypeVar("T")
P = TypeVar("P", bound=BaseModel)
_log = logging.getLogger("seatwise.graphql")


@dataclass
class GqlContext(BaseContext):
    """Built once per request: loaders never outlive it, so no cache crosses requests or tenants."""

    principal: Principal | None = None
    db: Database | None = None
    _loaders: dict[str, DataLoader[Any, Any]] = dataclass_field(default_factory=dict)
    verified: bool = False  # a transaction of this request has checked the caller (revocation, tenant)

    def __post_init__(self) -> None:
        super().__init__()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        assert self.principal is not None and self.db is not None  # permission classes ran first
        async with self.db.transaction(self.principal.scope) as session:
            self.verified = True
            yield session

    async def verify(self) -> None:
        """Check the caller in the database once per request, for a field that opens no transaction."""
        if not self.verified and self.principal is not None and self.db is not None:
            await verify(self.db, self.principal)
            self.verified = True

    def loader(self, name: str, batch: Callable[[AsyncSession, list[Any]], Awaitable[list[Any]]]
               ) -> DataLoader[Any, Any]:
        """The request's DataLoader NAME, batching keys into one call of BATCH in one transaction."""
        if name not in self._loaders:
            async def load(keys: list[Any]) -> list[Any]:
                async with self.transaction() as session:
                    return await batch(session, list(keys))

            self._loaders[name] = DataLoader(load_fn=load)
        return self._loaders[name]


async def context_getter(request: Request) -> GqlContext:
    state = request.app.state
    # No header: anonymous (GraphiQL loads; every field then refuses). A bad header: 401 at once.
    principal = await principal_of(request) if authorization_of(request) else None
    request.state.principal = principal
    return GqlContext(principal=principal, db=state.db)


# --- fields: roles, and the caller's session injected as in REST ------------------------------------------


def _injected(fn: Callable[..., Any]) -> tuple[dict[str, str], dict[str, Any]]:
    """The parameters of FN annotated with Caller, Session or Sessions (name -> what), and its type hints."""
    hints = typing.get_type_hints(fn, include_extras=True)
    found = {}
    for name, hint in hints.items():
        if get_origin(hint) is Annotated:
            for meta in hint.__metadata__:
                what = INJECTED.get(getattr(meta, "dependency", None))  # type: ignore[arg-type]
                if what is not None:
                    found[name] = what
    return found, hints


# A create or update model's GraphQL input (filled by create_input/update_input): a resolver parameter
# annotated with the model is exposed as the input and receives the validated model.
_INPUTS: dict[type[BaseModel], Any] = {}


def _shaped(hint: Any) -> Callable[[Any], Any] | None:
    """How to turn a use case's answer into the resolver's declared GraphQL return: a read type (`of`), a
    `Page` of one (`page`), a list or an optional of one; None when nothing needs converting."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if isinstance(hint, type) and hasattr(hint, "_pydantic_type"):
        return lambda value: value if value is None or isinstance(value, hint) else of(hint, value)
    if origin is Page and args:
        item = args[0]
        return lambda value: value if isinstance(value, Page) else page(item, value)
    if origin is list and args and (inner := _shaped(args[0])) is not None:
        return lambda value: [inner(v) for v in value]
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return _shaped(rest[0]) if len(rest) == 1 else None
    return None


def _injecting(fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """FN as a resolver written like a REST handler: its Caller/Session/Sessions parameters hidden from the
    schema and filled in per call; a parameter annotated with a create or update model exposed as that
    model's GraphQL input and validated into it (errors named under the argument); its answer (a row, a
    read model, a Paged) turned into the GraphQL type it declares."""
    injected, hints = _injected(fn)
    models = {n: h for n, h in hints.items() if n != "return" and isinstance(h, type) and h in _INPUTS}
    shape = _shaped(hints.get("return"))
    if not injected or set(injected.values()) == {"caller"}:
        # No transaction of its own to check the caller in (revocation, the brand's status): once a request.
        injected = {**injected, "_verified": "verified"}
    sig = inspect.signature(fn)
    takes_info = "info" in sig.parameters
    params = [p.replace(annotation=_INPUTS[models[n]] if n in models else hints.get(n, p.annotation))
              for n, p in sig.parameters.items() if n not in injected]
    if not takes_info:
        params.append(inspect.Parameter("info", inspect.Parameter.KEYWORD_ONLY, annotation=Info))

    @functools.wraps(fn)
    async def resolver(*args: Any, **kwargs: Any) -> Any:
        info: Info = kwargs["info"] if takes_info else kwargs.pop("info")
        context: GqlContext = info.context
        for name, model in models.items():
            kwargs[name] = validated(model, kwargs[name], [name])
        async with AsyncExitStack() as stack:
            for name, what in injected.items():
                if what == "verified":  # no transaction of its own: check the caller once per request
                    await context.verify()
                elif what == "caller":
                    kwargs[name] = context.principal
                elif what == "session":
                    kwargs[name] = await stack.enter_async_context(context.transaction())
                else:
                    assert context.db is not None and context.principal is not None
                    kwargs[name] = context.db.sessions(context.principal.scope)
            answer = await fn(*args, **kwargs)
            return answer if shape is None else shape(answer)  # inside the transaction: rows still bound

    resolver.__signature__ = sig.replace(  # type: ignore[attr-defined]
        parameters=params, return_annotation=hints.get("return", sig.return_annotation))
    resolver.__annotations__ = {k: (_INPUTS[v] if k in models else v) for k, v in hints.items()
                                if k not in injected}
    return resolver


def field(roles: Roles | None, *, description: str | None = None, name: str | None = None,
          mutation: bool = False) -> Callable[[Callable[..., Awaitable[Any]]], Any]:
    """Decorate a resolver: a GraphQL field allowed to ROLES (None: no check of its own, for a plain field
    of an object the caller was already allowed to read)."""

    def decorate(fn: Callable[..., Awaitable[Any]]) -> Any:
        make = strawberry.mutation if mutation else strawberry.field
        return make(resolver=_injecting(fn), permission_classes=[roles.gql] if roles else [],
                    description=description, name=name)

    return decorate


def mutation(roles: Roles, *, description: str | None = None, name: str | None = None
             ) -> Callable[[Callable[..., Awaitable[Any]]], Any]:
    return field(roles, description=description, name=name, mutation=True)


def object_mutations(noun: str, read: type, create: type[BaseModel], update: type[BaseModel], key: type,
                     use_cases: Any, roles: Any) -> type:
    """A strawberry type with the mutations `create_<noun>(input)` and `update_<noun>(id, input)` over the
    use cases of the same names in USE_CASES (a service module), allowed to `write` of ROLES (the domain's
    auth module): the GraphQL twin of kit.rest.object_routes."""
    add, change = getattr(use_cases, f"create_{noun}"), getattr(use_cases, f"update_{noun}")

    async def create_one(self: Any, session: Any, input: Any) -> Any:
        return await add(session, input)

    async def update_one(self: Any, session: Any, id: Any, input: Any) -> Any:
        return await change(session, id, input)

    create_one.__annotations__ = {"session": Session, "input": create, "return": read}
    update_one.__annotations__ = {"session": Session, "id": key, "input": update, "return": read}
    namespace = {f"create_{noun}": mutation(roles.write)(create_one),
                 f"update_{noun}": mutation(roles.write)(update_one)}
    return strawberry.type(type(f"{noun.title()}Mutations", (), namespace))


def delete_mutation(roles: Roles, use_case: Callable[..., Awaitable[None]], *, with_caller: bool = False
                    ) -> Any:
    """The mutation `(id: UUID!) -> Boolean!` removing one object through USE_CASE(session, [caller,] id),
    true once it is gone (an unknown id is the use case's NOT_FOUND), allowed to ROLES: the GraphQL twin of
    kit.rest.delete_route."""

    async def delete_one(self: Any, session: Any, id: Any, caller: Any = None) -> bool:
        await (use_case(session, caller, id) if with_caller else use_case(session, id))
        return True

    kw = inspect.Parameter.KEYWORD_ONLY
    injected = {"session": Session, **({"caller": Caller} if with_caller else {})}
    delete_one.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD),
         *(inspect.Parameter(n, kw, annotation=a) for n, a in injected.items()),
         inspect.Parameter("id", kw, annotation=uuid.UUID)], return_annotation=bool)
    delete_one.__annotations__ = {**injected, "id": uuid.UUID, "return": bool}
    return mutation(roles)(delete_one)


# --- shapes derived from the pydantic models ------------------------------------------------------------


def _doc(model: type[BaseModel]) -> str | None:
    doc = model.__doc__
    if not doc or doc == BaseModel.__doc__:
        return None
    return " ".join(doc.split())  # one paragraph, as the SDL prints a description


def read_type(model: type[BaseModel], *, name: str, description: str | None = None,
              interface: bool = False) -> Callable[[type[T]], type[T]]:
    """The GraphQL object type (or interface) of a read model: every field of MODEL, with its
    description; the class body may add resolver fields or override a field's GraphQL type."""
    decorator = (strawberry.experimental.pydantic.interface if interface
                 else strawberry.experimental.pydantic.type)
    derive = decorator(model=model, all_fields=True, name=name, description=description or _doc(model))

    def decorate(cls: type[T]) -> type[T]:
        derived = derive(cls)
        fields = get_object_definition(derived, strict=True).fields
        fields.sort(key=lambda f: f.base_resolver is not None)  # the model's fields first, resolvers after
        return cast("type[T]", derived)  # strawberry types the class it derives as its own protocol

    return decorate


def nested_types(*types: tuple[type[BaseModel], str] | tuple[type[BaseModel], str, str]) -> None:
    """The GraphQL types of read models that appear only inside other types, `(model, name)` or
    `(model, name, description)`: strawberry finds a nested model's type by its model, so no door names
    them. Declare them before the types that hold them."""
    for model, name, *description in types:
        read_type(model, name=name, description=description[0] if description else None)(type(name, (), {}))


def create_input(model: type[BaseModel], *, name: str, description: str | None = None,
                 replace: dict[str, tuple[Any, Any]] | None = None) -> Any:
    """The GraphQL input of a create model: every field, with the model's defaults. REPLACE gives a field a
    GraphQL shape of its own, `{field: (type, default)}`, or drops it with `(None, None)`, where GraphQL
    cannot say what the model says (it has no union inputs and no maps); the door converts those back."""
    replace = replace or {}
    namespace: dict[str, Any] = {"__annotations__": {}}
    for field_name in [*model.model_fields, *(f for f in replace if f not in model.model_fields)]:
        kind, default = replace.get(field_name, (strawberry.auto, UNSET))
        if kind is None:
            continue
        namespace["__annotations__"][field_name] = kind
        if default is not UNSET:
            namespace[field_name] = default
    body = type(name, (), namespace)
    derived = strawberry.experimental.pydantic.input(model=model, name=name,
                                                     description=description or _doc(model))(body)
    if not replace:  # the model's own shape: a resolver may take the model and receive it validated
        _INPUTS[model] = derived
    for f in get_object_definition(derived, strict=True).fields:
        kind, default = replace.get(f.python_name, (None, UNSET))
        if kind is not None and default is not UNSET:  # the model's default would not fit the GraphQL shape
            f.default = f.default_value = getattr(default, "default", default)
    return derived


def update_input(model: type[BaseModel], *, name: str, description: str | None = None,
                 replace: dict[str, tuple[Any, Any]] | None = None) -> Any:
    """The GraphQL input of an update (PATCH) model: every field optional and without a default, so an
    omitted field is UNSET (left as it is) and an explicit null is None (cleared). REPLACE as for
    `create_input`."""
    typed = create_input(model, name=f"{name}Fields", replace=replace)  # strawberry's conversion of the types
    namespace: dict[str, Any] = {"__annotations__": {}}
    for f in typed.__strawberry_definition__.fields:
        namespace["__annotations__"][f.python_name] = f.type
        namespace[f.python_name] = strawberry.field(default=UNSET, description=f.description,
                                                    name=f.graphql_name)
    derived = strawberry.input(name=name, description=description or _doc(model))(type(name, (), namespace))
    _INPUTS[model] = derived
    return derived


def plain(value: Any) -> Any:
    """A strawberry input as plain data for the pydantic model: nested inputs to dicts, enums to their
    values, UNSET (omitted) fields dropped, explicit nulls kept."""
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    if hasattr(value, "__strawberry_definition__"):
        return {k: plain(v) for k, v in vars(value).items() if v is not UNSET}
    return value


def graphql_problem(problem: Problem) -> GraphQLError:
    """A problem as a GraphQL error, its fields at GraphQL locations (camelCase; `cursor` is `after` and
    `limit` is `first` in this door)."""
    moved = problem.relocated(rename=_GRAPHQL_NAMES, camel=True)
    extensions: dict[str, Any] = {"code": _CODES.get(moved.status, "BAD_REQUEST"), "status": moved.status}
    if moved.errors:
        extensions["errors"] = moved.errors
    for key, value in (getattr(moved, "extensions", None) or {}).items():
        extensions.setdefault(key, value)
    return GraphQLError(moved.detail, extensions=extensions)


def validated(model: type[P], data: Any, where: Sequence[str] = ()) -> P:
    """Validate a GraphQL input (or plain data) with the REST model, so both doors accept exactly the same;
    errors name the fields as GraphQL does, under WHERE (the argument, e.g. `input`)."""
    try:
        return model.model_validate(plain(data))
    except ValidationError as exc:
        errors = field_errors(exc.errors(), prefix=where)
        raise graphql_problem(Problem(summary(errors), errors=errors, status=422)) from None


def of(type_: type[T], value: Any) -> T:
    """The GraphQL object of TYPE_ (a `read_type`) for VALUE: a row, a dataclass or the read model."""
    model: type[BaseModel] = type_._pydantic_type  # type: ignore[attr-defined]
    read = value if isinstance(value, model) else model.model_validate(value, from_attributes=True)
    return type_.from_pydantic(read)  # type: ignore[attr-defined, no-any-return]


@strawberry.type(description="A page of a list; pass `nextCursor` as `after` for the next one.")
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def page(type_: type[T], paged: Paged[Any]) -> Page[T]:
    """A service's page as the GraphQL page of TYPE_."""
    return Page(items=[of(type_, item) for item in paged.items], next_cursor=paged.next_cursor)


def batch_rows(records: list[Any], most: int, route: str) -> list[dict[str, Any]]:
    """A batch mutation's input records as plain dicts without nulls (what an NDJSON line would hold), at
    most MOST a call (Invalid('records') names ROUTE, where larger batches go)."""
    if len(records) > most:
        raise Invalid("records", f"at most {most:,} a call; send larger batches to POST {route}")
    return [{k: v for k, v in plain(r).items() if v is not None} for r in records]


def ingest_mutation(roles: Roles, record: type, answer: type, *, most: int, what: str, route: str,
                    use_case: Callable[..., Awaitable[Any]]) -> Any:
    """The mutation `(records: [RECORD!]!) -> ANSWER` for a small batch (at most MOST records, called WHAT
    in its description) through USE_CASE(session, caller, rows, max_age_days): the same path as REST's POST
    ROUTE, where larger batches go; allowed to ROLES. One per ingest feed, so each feed's GraphQL door is
    one line."""

    async def ingest(self: Any, session: Any, caller: Any, info: Info, records: Any) -> Any:
        max_age = info.context.request.app.state.settings.ingest_max_age_days
        return await use_case(session, caller, batch_rows(records, most, route), max_age)

    records_type = list[record]  # type: ignore[valid-type]
    ingest.__annotations__ = {"session": Session, "caller": Caller, "info": Info, "records": records_type,
                              "return": answer}
    description = f"Ingest up to {most:,} {what}; idempotent by shop and externalId."
    return mutation(roles, description=description)(ingest)


def page_request(first: int, after: str | None) -> PageRequest:
    """The GraphQL page arguments (`first`, `after`) as the use cases' PageRequest."""
    return PageRequest(limit=check_limit(first), cursor=after)


def extend_type(target: type, *parts: type) -> None:
    """Add the fields of PARTS (strawberry types another domain declares for TARGET, e.g. the SLA fields of
    Shop) to TARGET, once, before the schema is built: the composition root (service/schema.py) does this,
    so a lower domain's door never imports a higher one's."""
    definition = target.__strawberry_definition__  # type: ignore[attr-defined]
    names = {f.python_name for f in definition.fields}
    for part in parts:
        for f in part.__strawberry_definition__.fields:  # type: ignore[attr-defined]
            if f.python_name in names:
                continue
            moved = copy.copy(f)
            moved.origin = target
            definition.fields.append(moved)
            names.add(f.python_name)


# --- errors ---------------------------------------------------------------------------------------------

_GRAPHQL_NAMES = {"cursor": "after", "limit": "first"}
_CODES = {401: "UNAUTHENTICATED", 403: "FORBIDDEN", 404: "NOT_FOUND", 409: "CONFLICT", 413: "TOO_LARGE",
          422: "BAD_USER_INPUT", 429: "RATE_LIMITED"}


def _known(original: BaseException | None) -> Problem | None:
    """The problem behind a resolver's exception, when it is an expected one."""
    if original is None or isinstance(original, GraphQLError | PermissionError):
        return None
    return as_problem(original)


class ProblemErrors(SchemaExtension):
    """Give domain problems (and the database's outages and character errors) a code, a status and GraphQL
    field names; hide anything unexpected behind a generic message (Schema.process_errors logged it)."""

    def on_execute(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if not result or not result.errors:
            return
        for i, error in enumerate(result.errors):
            original = error.original_error
            known = _known(original)
            if known is not None:
                mapped = graphql_problem(known)
                result.errors[i] = GraphQLError(mapped.message, nodes=error.nodes, path=error.path,
                                                extensions=mapped.extensions)
            elif original is not None and not isinstance(original, GraphQLError | PermissionError) and \
                    type(original).__name__ != "PermissionError":
                result.errors[i] = GraphQLError("an unexpected error occurred", nodes=error.nodes,
                                                path=error.path,
                                                extensions={"code": "INTERNAL", "status": 500})


class Schema(strawberry.Schema):
    """Errors logged as the REST door logs them: a refusal or bad input on one line, a traceback only for a
    real fault, a database outage once per window."""

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        for error in errors:
            original = error.original_error
            if original is None or isinstance(original, GraphQLError | PermissionError) or \
                    type(original).__name__ == "PermissionError":
                _log.info("graphql: %s", error.message)
                continue
            known = as_problem(original)
            if known is None:
                _log.error("unhandled resolver error at %s", ".".join(map(str, error.path or [])),
                           exc_info=original)
            elif known.status == 503:
                report(known, original)
            else:
                _log.info("graphql: %s", known.detail)


# --- the HTTP door -----------------------------------------------------------------------------------------

MAX_JSON_DEPTH = 32
_BAD_BODY = ('the body must be a JSON object in UTF-8, e.g. {"query": "{ me { role } }", "variables": {}}, '
             f"nested at most {MAX_JSON_DEPTH} levels")


def json_depth_over(value: Any, limit: int) -> bool:
    """Whether a parsed JSON value nests deeper than LIMIT (iteratively: no recursion to overflow)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return False


def _refuse_bad_text(errors: list[GraphQLError]) -> None:
    for error in errors:
        if NOT_TEXT in error.message:
            error.extensions = {**(error.extensions or {}), "code": "BAD_USER_INPUT", "status": 422}


class Router(GraphQLRouter[GqlContext, None]):
    """strawberry's FastAPI router, answering a body it cannot use with a 400 problem+json (not a 500):
    JSON null or a string, invalid UTF-8, deep nesting; and a database outage with a 503. Its GraphiQL page
    loads its scripts from this server (service.kit.docs)."""

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        return HTMLResponse(GRAPHIQL_PAGE)

    def decode_json(self, data: str | bytes) -> object:
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError:
            try:  # orjson refuses a lone surrogate's escape, which the String check answers with a 422
                doc = json.loads(data)
            except (ValueError, RecursionError):
                raise BadRequest(_BAD_BODY) from None
        if not isinstance(doc, dict) or json_depth_over(doc, MAX_JSON_DEPTH):
            raise BadRequest(_BAD_BODY)
        return doc

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        try:
            return await super().run(request, context, root_value)
        except StrawberryHTTPException as exc:
            raise Problem(exc.reason, status=exc.status_code) from None

    async def process_result(self, request: Request, result: ExecutionResult) -> Any:
        errors = result.errors or []
        if any((e.extensions or {}).get("status") == 503 for e in errors):
            raise Unavailable()
        _refuse_bad_text(errors)
        return await super().process_result(request, result)


# --- text: NUL and lone surrogates refused in every String and ID, as the REST door's Text type does ------


def _text_input(coerce: Callable[..., Any]) -> Callable[..., Any]:
    def checked(*args: Any) -> Any:
        value = coerce(*args)
        if isinstance(value, str) and not storable_text(value):
            raise GraphQLError(NOT_TEXT, extensions={"code": "BAD_USER_INPUT", "status": 422})
        return value

    return checked


for _scalar in (GraphQLString, GraphQLID):
    if not getattr(_scalar, "_seatwise_text", False):
        _scalar.coerce_input_value = _text_input(_scalar.coerce_input_value)
        _scalar.coerce_input_literal = _text_input(_scalar.coerce_input_literal)  # type: ignore[arg-type]
        _scalar._seatwise_text = True  # type: ignore[attr-defined]


__all__ = ["UNSET", "GqlContext", "Page", "ProblemErrors", "Router", "Schema", "context_getter",
           "create_input", "delete_mutation", "extend_type", "field", "graphql_problem", "ingest_mutation",
           "mutation", "of", "page", "page_request", "plain", "read_type", "update_input", "validated"]

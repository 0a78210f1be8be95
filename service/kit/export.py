"""CSV exports streamed from PostgreSQL's COPY TO in chunks, with bounded memory: the export never sits in
the server's memory, whatever its size. A use case gives the query (named parameters, `:name`) from a
transaction of the caller's scope; the rows travel as they come."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from service.kit.db import ScopedSessions

_NAMED = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")


def positional(sql: str, params: dict[str, Any]) -> tuple[str, list[Any]]:
    """SQL with `:name` parameters as asyncpg's `$n`, and their values in that order."""
    order: list[str] = []

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in order:
            order.append(name)
        return f"${order.index(name) + 1}"

    return _NAMED.sub(number, sql), [params[name] for name in order]


Prepare = Callable[[AsyncSession], Awaitable[tuple[str, dict[str, Any]]]]


async def copy_csv(sessions: ScopedSessions, prepare: Prepare) -> AsyncIterator[bytes]:
    """The rows of the query PREPARE builds (in a transaction of SESSIONS' scope) as CSV with a header,
    streamed from COPY TO in chunks."""
    queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=8)
    done = object()

    async def produce() -> None:
        try:
            async with sessions() as session:
                sql, params = await prepare(session)
                query, args = positional(sql, params)
                conn = await session.connection()
                raw = (await conn.get_raw_connection()).driver_connection
                assert raw is not None
                await raw.copy_from_query(query, *args, output=queue.put, format="csv", header=True)
            await queue.put(done)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which re-raises it
            await queue.put(exc)

    task = asyncio.create_task(produce())
    try:
        while True:
            item = await queue.get()
            if item is done:
                break
            if isinstance(item, BaseException):
                raise item
            yield bytes(item)
    finally:
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

"""Alembic environment (async). The URL comes from the config attribute `sqlalchemy.url` when the
caller set one (the migrate command, tests), else from the Seatwise settings (owner connection)."""

import asyncio

from alembic import context
from sqlalchemy.ext.asyncio import create_async_engine

from service.models import metadata

config = context.config


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from service.kit.db import owner_url
    from service.settings import get_settings

    return owner_url(get_settings())


def _include_object(obj, name, type_, reflected, compare_to):
    # Monthly partitions are created at run time, not by migrations.
    if type_ == "table" and reflected and compare_to is None and "_p20" in (name or ""):
        return False
    return True


def _configure(connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, compare_type=True,
                      include_object=_include_object)
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_async_engine(_url())
    async with engine.connect() as connection:
        await connection.run_sync(_configure)
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
    else:
        asyncio.run(_run_async())

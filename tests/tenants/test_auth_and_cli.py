"""Tokens, settings and the `seatwise` command line."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from service.kit.errors import Unauthorized
from service.kit.identity import Role, decode_token, issue_token, parse_ttl
from service.settings import ConfigurationError, Settings, resolve_jwt_secret
from tests.factories import cli_env, run_cli


def test_parse_ttl():
    assert parse_ttl("8h") == timedelta(hours=8)
    assert parse_ttl("30m") == timedelta(minutes=30)
    assert parse_ttl("7d") == timedelta(days=7)
    assert parse_ttl("90") == timedelta(seconds=90)
    for bad in ("", "0h", "-1h", "8 hours", "h"):
        with pytest.raises(ValueError):
            parse_ttl(bad)


def test_token_round_trip():
    secret = "s" * 40
    tenant = uuid.uuid4()
    principal = decode_token(secret, issue_token(secret, subject="u1", role=Role.client, tenant_id=tenant,
                                                 ttl=timedelta(minutes=5)))
    assert (principal.subject, principal.role, principal.tenant_id) == ("u1", Role.client, tenant)
    assert not principal.is_staff and principal.scope.tenant_id == tenant
    ops_token = issue_token(secret, subject="o", role=Role.ops, tenant_id=None, ttl=timedelta(hours=1))
    staff = decode_token(secret, ops_token)
    assert staff.is_staff and staff.scope.staff
    with pytest.raises(ValueError):
        issue_token(secret, subject="x", role=Role.client, tenant_id=None, ttl=timedelta(hours=1))
    with pytest.raises(ValueError):
        issue_token(secret, subject="x", role=Role.ops, tenant_id=tenant, ttl=timedelta(hours=1))
    with pytest.raises(Unauthorized):
        decode_token("other" * 10, ops_token)


def test_production_without_secret_refuses(tmp_path):
    settings = Settings(DATABASE_URL="postgresql://db.example/seatwise", data_dir=tmp_path)
    with pytest.raises(ConfigurationError, match="SEATWISE_JWT_SECRET"):
        resolve_jwt_secret(settings)


def test_embedded_secret_is_generated_once(tmp_path):
    settings = Settings(data_dir=tmp_path / "d")
    first = resolve_jwt_secret(settings)
    assert len(first) >= 40 and resolve_jwt_secret(settings) == first
    assert (tmp_path / "d" / "jwt_secret").stat().st_mode & 0o077 == 0


async def test_token_issue_prints_only_a_jwt_or_its_json(database, tmp_path):
    import asyncio
    import json

    env = cli_env(database, tmp_path)
    result = await asyncio.to_thread(run_cli, ["token", "issue", "--role", "finance", "--ttl", "30m"], env)
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert "\n" not in token and token.count(".") == 2
    principal = decode_token("k" * 40, token)
    assert principal.role == Role.finance and principal.tenant_id is None
    result = await asyncio.to_thread(run_cli, ["token", "issue", "--role", "ops", "--json"], env)
    issued = json.loads(result.stdout)
    assert decode_token("k" * 40, issued["token"]).jti == issued["jti"]
    assert issued["expires_at"].endswith("+00:00") and issued["role"] == "ops"


async def test_token_revoke_takes_the_token_itself_and_refuses_an_unknown_id(database, tmp_path):
    import asyncio
    import json

    env = cli_env(database, tmp_path)
    issued = json.loads((await asyncio.to_thread(run_cli, ["token", "issue", "--role", "ops", "--json"],
                                                 env)).stdout)
    revoked = await asyncio.to_thread(run_cli, ["token", "revoke", issued["token"]], env)
    assert revoked.exit_code == 0 and issued["jti"] in revoked.output, revoked.output
    assert issued["token"] not in revoked.output
    unknown = await asyncio.to_thread(run_cli, ["token", "revoke", str(uuid.uuid4())], env)
    assert unknown.exit_code == 2 and "no token" in unknown.output
    forged = issued["token"][:-4] + "AAAA"
    refused = await asyncio.to_thread(run_cli, ["token", "revoke", forged], env)
    assert refused.exit_code == 2 and forged not in refused.output and "Traceback" not in refused.output


def test_no_command_prints_a_secret_in_an_error(tmp_path, database):
    token = issue_token("k" * 40, subject="x", role=Role.ops, tenant_id=None, ttl=timedelta(hours=1))
    env = cli_env(database, tmp_path, SEATWISE_APP_DATABASE_URL="postgresql+asyncpg://nobody@/nowhere?host=/none",
                  DATABASE_URL="postgresql+asyncpg://nobody@/nowhere?host=/none")
    result = run_cli(["token", "revoke", token], env)
    assert result.exit_code != 0
    assert token not in result.output and "Traceback" not in result.output and "SELECT" not in result.output


def test_token_issue_refuses_bad_arguments(tmp_path):
    env = {"SEATWISE_JWT_SECRET": "k" * 40, "SEATWISE_DATA_DIR": str(tmp_path)}
    assert run_cli(["token", "issue", "--role", "emperor"], env).exit_code == 2  # refused before any database
    assert run_cli(["token", "issue", "--role", "client"], env).exit_code == 2
    assert run_cli(["token", "issue", "--role", "ops", "--tenant", "lumi"], env).exit_code == 2
    assert run_cli(["token", "issue", "--role", "ops", "--ttl", "forever"], env).exit_code == 2
    prod = {"DATABASE_URL": "postgresql://nowhere.invalid/x", "SEATWISE_DATA_DIR": str(tmp_path)}

    refused = run_cli(["token", "issue", "--role", "ops"], prod)
    assert refused.exit_code == 2 and "SEATWISE_JWT_SECRET" in refused.output


async def test_client_token_and_revoke_through_the_cli(database, world, tmp_path):
    import asyncio

    env = cli_env(database, tmp_path)
    issue = ["token", "issue", "--role", "client", "--tenant", world.tenant_a.slug]
    result = await asyncio.to_thread(run_cli, issue, env)
    assert result.exit_code == 0, result.output
    principal = decode_token("k" * 40, result.stdout.strip())
    assert principal.tenant_id == world.tenant_a.id
    revoked = await asyncio.to_thread(run_cli, ["token", "revoke", principal.jti], env)
    assert revoked.exit_code == 0, revoked.output
    again = await asyncio.to_thread(run_cli, ["token", "revoke", principal.jti], env)
    assert "already" in again.output

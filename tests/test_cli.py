"""The command line fails like the API does: one line naming the option or file, the field and the reason,
documented exit codes, never a traceback; it says which data dir and database it used and never creates a
database for a command that only reads; `plan` takes the next upcoming edition and labels its units."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

from service.capacity.schemas import PromotionCreate
from service.capacity.service import create_promotion
from tests.factories import cli_env, run_cli


def test_help_shows_no_bool_placeholders():
    for command in (["serve", "--help"], ["plan", "--help"], ["--help"]):
        result = run_cli(command, {})
        assert result.exit_code == 0 and "<bool>" not in result.output, result.output
    assert "Exit codes:" in run_cli(["--help"], {}).output


def test_a_read_only_command_never_creates_a_database(tmp_path):
    empty = tmp_path / "elsewhere"
    for args in (["token", "issue", "--role", "ops"],
                 ["token", "issue", "--role", "client", "--tenant", "lumi-beauty"]):
        result = run_cli(args, {"SEATWISE_DATA_DIR": str(empty)})
        assert result.exit_code == 3, result.output
        assert f"no Seatwise database in {empty}" in result.output and "SEATWISE_DATA_DIR" in result.output
        assert "Traceback" not in result.output
    assert not (empty / "pg").exists() and not (empty / "jwt_secret").exists()


def test_an_unknown_role_lists_the_roles(tmp_path):
    result = run_cli(["token", "issue", "--role", "boss"], {"SEATWISE_JWT_SECRET": "k" * 40,
                                                            "SEATWISE_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 2
    assert result.output.strip() == "--role: 'boss' is not a role (one of admin, ops, finance, client)"


async def test_a_bad_csv_is_one_line_naming_file_field_and_reason(database, world, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text(f"external_id,shop_id,started_at\nx-1,{world.shops_a[0].id},2026-11-02T09:00:00+08:00\n")
    result = await asyncio.to_thread(run_cli, ["ingest", str(bad)], cli_env(database, tmp_path))
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines[0].startswith("database: PostgreSQL ") and "(DATABASE_URL)" in lines[0]
    assert lines[-1] == f"{bad}: header: the CSV header lacks required columns: kind"
    assert "Traceback" not in result.output


async def test_plan_takes_the_next_edition_warns_and_labels_units(database, db, world, tmp_path):
    today = date.today()
    async with db.system_transaction() as session:
        for start in (today - timedelta(days=400), today + timedelta(days=20), today + timedelta(days=385)):
            await create_promotion(session, PromotionCreate(name="Flash Sale", start_date=start,
                                                            end_date=start + timedelta(days=1)))
    env = cli_env(database, tmp_path)
    result = await asyncio.to_thread(run_cli, ["plan", "--promotion", "Flash Sale", "--seats", "3"], env)
    assert result.exit_code == 0, result.output
    upcoming = today + timedelta(days=20)
    assert "Flash Sale, 3 seats" in result.output
    assert f"{upcoming:%Y-%m-%d} 00:00 .. " in result.output and "Asia/Shanghai" in result.output
    assert "warning: no uplift history for Flash Sale" in result.output
    assert "seats at once" in result.output or "seat-intervals" in result.output
    past = await asyncio.to_thread(run_cli, ["plan", "--promotion", "Flash Sale", "--seats", "3", "--year",
                                             str(today.year - 1 if today.month > 1 else today.year - 2)], env)
    assert past.exit_code in (0, 2), past.output
    unknown = await asyncio.to_thread(run_cli, ["plan", "--promotion", "Nope", "--seats", "3"], env)
    assert unknown.exit_code == 2
    assert unknown.output.strip().splitlines()[-1] == "promotion: no promotion named 'Nope'"


def test_a_token_from_another_data_dir_is_told_apart():
    from service.kit.errors import Unauthorized
    from service.kit.identity import Role, decode_token, issue_token, parse_ttl

    token = issue_token("a" * 40, subject="x", role=Role.ops, tenant_id=None, ttl=parse_ttl("1h"))
    try:
        decode_token("b" * 40, token)
    except Unauthorized as exc:
        assert "not signed by this server" in exc.detail and "SEATWISE_DATA_DIR" in exc.detail
        assert "secret" not in exc.detail.lower()  # an error never talks about secrets
    else:
        raise AssertionError("a token signed with another secret was accepted")

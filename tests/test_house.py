"""The house rules, checked like any other behaviour: lint clean (line length included), the layering
contracts (import-linter: layers point one way, doors over use cases), strict types where the foundations and
the maths live (mypy)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail(f"{name} is not installed in the project's environment (uv sync)")
    return found


def test_ruff_is_clean():
    result = _run(_tool("ruff"), "check", "--quiet", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_layering_contracts_hold():
    result = _run(_tool("lint-imports"))
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr


def test_types_are_strict_where_it_matters():
    result = _run(_tool("mypy"))
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr

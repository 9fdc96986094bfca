"""
Family modules (event types, decide, evolve and writers) are pure: they import
no Redis or aiohttp client, read no clock and draw no randomness; time and ids
come in as arguments (STYLE.md, convention 3).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: The I/O modules of events/ and projections/: the stores and the rebuild,
#: verify, replay and archive machinery that reads and writes Redis.
IO_MODULES = {
    "events/store.py",
    "projections/store.py",
    "projections/archive.py",
    "projections/archiver.py",
    "projections/fold.py",
    "projections/indexes.py",
    "projections/keyscan.py",
    "projections/rebuild.py",
    "projections/replay.py",
    "projections/source.py",
    "projections/spill.py",
    "projections/verify.py",
}
FORBIDDEN = {"redis", "aiohttp", "time", "random", "secrets", "uuid", "os", "datetime"}


def family_modules() -> list[str]:
    found = sorted(
        str(path.relative_to(ROOT))
        for package in ("events", "projections")
        for path in (ROOT / package).glob("*.py")
    )
    return [name for name in found if name not in IO_MODULES]


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("name", family_modules())
def test_a_family_module_imports_no_io_clock_or_randomness(name: str) -> None:
    assert set() == imported_roots(ROOT / name) & FORBIDDEN


def test_the_io_list_names_only_modules_that_exist() -> None:
    """
    A renamed I/O module must leave the list, or the check above loses reach.
    """
    assert set() == {name for name in IO_MODULES if not (ROOT / name).exists()}

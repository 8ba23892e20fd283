"""The layers import one way (decoders <- ladder <- tui) and the core stays headless."""

from __future__ import annotations

import ast
import functools
import json
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

HEAVY = ("textual", "plotly", "pyshark")


def _imported_modules(package: str) -> set[str]:
    """Every top-level module named in an import statement anywhere under ``package``."""
    names: set[str] = set()
    for path in (ROOT / package).rglob("*.py"):
        names |= _imported_modules_of_file(path)
    return names


def test_decoders_import_neither_ladder_nor_tui():
    imported = _imported_modules("decoders")
    assert not imported & {"ladder", "tui", "textual", "plotly", "pyshark"}, imported


def test_ladder_never_imports_tui_or_textual():
    imported = _imported_modules("ladder")
    assert "textual" not in imported
    # tui is reached only through a lazy import inside ladder/cli/open.py (the TUI entry point).
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "ladder").rglob("*.py")
        if path != ROOT / "ladder" / "cli" / "open.py" and "tui" in _imported_modules_of_file(path)
    ]
    assert offenders == []


@functools.cache
def _imports_of_file(path: Path) -> tuple[ast.Import | ast.ImportFrom, ...]:
    """The import statements of one file, parsed once for all the tests here."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return tuple(node for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom)))


def _imported_modules_of_file(path) -> set[str]:
    found: set[str] = set()
    for node in _imports_of_file(path):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_importing_every_core_module_loads_no_heavy_dependency():
    """Import all of decoders/ and ladder/ in a fresh interpreter: textual, plotly and pyshark
    must stay out of sys.modules (they are imported only inside the functions that use them)."""
    script = f"""
import importlib, json, pkgutil, sys
sys.path.insert(0, {str(ROOT)!r})
loaded = []
for package in ("decoders", "ladder"):
    pkg = importlib.import_module(package)
    for info in pkgutil.walk_packages(pkg.__path__, package + "."):
        if info.name.endswith(".__main__"):  # runs the CLI when imported
            continue
        importlib.import_module(info.name)
        loaded.append(info.name)
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r})
print(json.dumps({{"loaded": loaded, "heavy": heavy}}))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    report = json.loads(result.stdout)
    assert "ladder.cli.dispatch" in report["loaded"]
    assert report["heavy"] == []


# Inside ladder/, the rooms import one way too: each may import only the rooms before it
# (and the base modules errors, textsafe and the _accel extension, which any room may use).
ROOM_ORDER = ("media", "capture", "calls", "draw", "check", "call_filter", "analysis", "export", "archive", "live",
              "cli", "__main__")
BASE = {"errors", "textsafe", "_accel", "__version__"}


def _room_imports() -> dict[str, set[str]]:
    """room -> the rooms its modules import (``from ladder.check.rules import …`` names ``check``)."""
    found: dict[str, set[str]] = {}
    for path in (ROOT / "ladder").rglob("*.py"):
        parts = path.relative_to(ROOT / "ladder").parts
        room = parts[0] if len(parts) > 1 else path.stem
        if room == "__init__":
            continue
        for node in _imports_of_file(path):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            for name in names:
                bits = name.split(".")
                if bits[0] == "ladder" and len(bits) > 1 and bits[1] != room:
                    found.setdefault(room, set()).add(bits[1])
    return found


def test_every_module_of_ladder_is_in_a_room_of_the_order():
    rooms = {p.name for p in (ROOT / "ladder").iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    loose = {p.stem for p in (ROOT / "ladder").glob("*.py")} - {"__init__"}
    assert rooms | loose <= set(ROOM_ORDER) | BASE, (rooms | loose) - set(ROOM_ORDER) - BASE


def test_rooms_import_only_the_rooms_before_them():
    rank = {room: i for i, room in enumerate(ROOM_ORDER)}
    wrong = sorted(
        (room, used)
        for room, imported in _room_imports().items()
        for used in imported
        if used not in BASE and room not in BASE and rank[used] > rank[room]
    )
    assert wrong == [], wrong

"""The TUI's few remembered choices (the call list's columns), in a small JSON file under the
user's configuration directory: ``$XDG_CONFIG_HOME/pcapladder/tui.json``, else
``~/.config/pcapladder/tui.json`` (XDG Base Directory Specification). A missing or damaged file
means the defaults; a file that cannot be written costs the memory, never the session."""

from __future__ import annotations

import json
import os
from pathlib import Path


def config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME", "")
    # The spec: a relative path in the variable is invalid and is ignored.
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".config"
    return root / "pcapladder" / "tui.json"


def load_settings() -> dict:
    try:
        data = json.loads(config_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def load_columns(known: list[str]) -> list[str] | None:
    """The saved call-list columns that still exist, in ``known``'s order; None when unset."""
    saved = load_settings().get("call_columns")
    if not isinstance(saved, list):
        return None
    chosen = [key for key in known if key in saved]
    return chosen or None


def save_columns(columns: list[str]) -> str | None:
    """Remember ``columns``; returns why it could not be written, or None."""
    settings = load_settings()
    settings["call_columns"] = list(columns)
    path = config_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
        temporary.replace(path)
    except OSError as exc:
        return f"{path}: {exc.strerror or exc}"
    return None

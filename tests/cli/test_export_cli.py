"""``ladder export`` as a command: the same text/Mermaid/JSON as ``ladder show``, ``-`` for
stdout, call selection, and clear usage errors (exit 2)."""

from __future__ import annotations

import subprocess
import sys

from conftest import ROOT, SAMPLES

SAMPLE = SAMPLES / "rfc3665-3.2-session-through-two-proxies.pcap"


def _ladder(*args, ok: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "ladder", *map(str, args)], capture_output=True,
                          text=True, cwd=ROOT, timeout=120)
    if ok:
        assert done.returncode == 0, done.stderr
    return done


def test_text_mermaid_json_match_show(tmp_path):
    _ladder("export", SAMPLE, "--text", tmp_path / "l.txt", "--mermaid", tmp_path / "l.mmd",
            "--json", tmp_path / "l.json")
    for fmt, name in (("text", "l.txt"), ("mermaid", "l.mmd"), ("json", "l.json")):
        shown = _ladder("show", SAMPLE, "--format", fmt).stdout
        assert (tmp_path / name).read_text(encoding="utf-8") == shown


def test_stdout_and_call_selection():
    done = _ladder("export", SAMPLE, "--mermaid", "-", "--call", "1")
    assert done.stdout.startswith("sequenceDiagram\n") and "F23\n" in done.stdout


def test_usage_errors_exit_2(tmp_path):
    nothing = _ladder("export", SAMPLE, ok=False)
    assert nothing.returncode == 2 and "nothing to export" in nothing.stderr
    missing = _ladder("export", SAMPLE, "--text", tmp_path / "x.txt", "--call", "9", ok=False)
    assert missing.returncode == 2 and "no call '9'" in missing.stderr
    two = _ladder("export", SAMPLE, "--text", "-", "--json", "-", ok=False)
    assert two.returncode == 2 and "stdout" in two.stderr
    clobber = _ladder("export", SAMPLE, "--html", SAMPLE, ok=False)
    assert clobber.returncode == 2 and "overwrite" in clobber.stderr
    assert "Traceback" not in nothing.stderr + missing.stderr + two.stderr + clobber.stderr


def test_unwritable_output_is_a_clear_error(tmp_path):
    done = _ladder("export", SAMPLE, "--html", tmp_path / "no" / "such" / "dir.html", ok=False)
    assert done.returncode == 2 and "cannot write" in done.stderr and "Traceback" not in done.stderr


def test_aliases_name_the_columns_of_every_output_even_anonymised(tmp_path):
    alias = ("--alias", "192.0.2.111=Proxy 1", "--alias", "192.0.2.222=Proxy 2")
    shown = _ladder("show", SAMPLE, *alias).stdout
    assert _ladder("export", SAMPLE, "--text", "-", *alias).stdout == shown
    _ladder("export", SAMPLE, "--html", tmp_path / "r.html", *alias)
    assert "Proxy 2" in (tmp_path / "r.html").read_text(encoding="utf-8")
    # Anonymised, the user's names stay on the hosts whose addresses were replaced.
    anonymised = _ladder("export", SAMPLE, "--text", "-", "--anonymize", *alias).stdout
    header = anonymised.splitlines()[2]
    assert "Proxy 1" in header and "Proxy 2" in header
    assert "ss1.atlanta" not in anonymised and "192.0.2." not in anonymised

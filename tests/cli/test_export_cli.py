"""``ladder export`` as a command: the same text/Mermaid/JSON as ``ladder show``, ``-`` for
stdout, call selection, and clear usage errors (exit 2)."""

from __future__ import annotations


from conftest import SAMPLES

SAMPLE = SAMPLES / "rfc3665-3.2-session-through-two-proxies.pcap"


def test_text_mermaid_json_match_show(tmp_path, run_ladder):
    done = run_ladder("export", SAMPLE, "--text", tmp_path / "l.txt", "--mermaid", tmp_path / "l.mmd",
                      "--json", tmp_path / "l.json")
    assert done.code == 0, done.err
    for fmt, name in (("text", "l.txt"), ("mermaid", "l.mmd"), ("json", "l.json")):
        shown = run_ladder("show", SAMPLE, "--format", fmt)
        assert shown.code == 0 and (tmp_path / name).read_text(encoding="utf-8") == shown.out


def test_stdout_and_call_selection(run_ladder):
    done = run_ladder("export", SAMPLE, "--mermaid", "-", "--call", "1")
    assert done.code == 0, done.err
    assert done.out.startswith("sequenceDiagram\n") and "F23\n" in done.out


def test_usage_errors_exit_2(tmp_path, run_ladder):
    nothing = run_ladder("export", SAMPLE)
    assert nothing.code == 2 and "nothing to export" in nothing.err
    missing = run_ladder("export", SAMPLE, "--text", tmp_path / "x.txt", "--call", "9")
    assert missing.code == 2 and "no call '9'" in missing.err
    two = run_ladder("export", SAMPLE, "--text", "-", "--json", "-")
    assert two.code == 2 and "stdout" in two.err
    clobber = run_ladder("export", SAMPLE, "--html", SAMPLE)
    assert clobber.code == 2 and "overwrite" in clobber.err
    assert "Traceback" not in nothing.err + missing.err + two.err + clobber.err


def test_unwritable_output_is_a_clear_error(tmp_path, run_ladder):
    done = run_ladder("export", SAMPLE, "--html", tmp_path / "no" / "such" / "dir.html")
    assert done.code == 2 and "cannot write" in done.err and "Traceback" not in done.err


def test_aliases_name_the_columns_of_every_output_even_anonymised(tmp_path, run_ladder):
    alias = ("--alias", "192.0.2.111=Proxy 1", "--alias", "192.0.2.222=Proxy 2")
    shown = run_ladder("show", SAMPLE, *alias)
    assert shown.code == 0 and run_ladder("export", SAMPLE, "--text", "-", *alias) == shown
    assert run_ladder("export", SAMPLE, "--html", tmp_path / "r.html", *alias).code == 0
    assert "Proxy 2" in (tmp_path / "r.html").read_text(encoding="utf-8")
    # Anonymised, the user's names stay on the hosts whose addresses were replaced.
    anonymised = run_ladder("export", SAMPLE, "--text", "-", "--anonymize", *alias)
    assert anonymised.code == 0, anonymised.err
    anonymised = anonymised.out
    header = anonymised.splitlines()[2]
    assert "Proxy 1" in header and "Proxy 2" in header
    assert "ss1.atlanta" not in anonymised and "192.0.2." not in anonymised

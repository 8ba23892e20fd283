"""``ladder index`` / ``search`` / ``show INDEX``: archives written by splitting real captures
(calls span the splits), indexed by one process, local processes and a Dask cluster that
the test starts on loopback; stitched calls compared with the unsplit capture."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import pyarrow.parquet as pq
import pytest

from ladder.archive.indexer import build_index
from ladder.archive.scan import analyse_capture
from ladder.archive.search import search
from ladder.calls.grouping import build_calls
from ladder.call_filter import FilterError, parse_terms, term_predicate
from ladder.capture.loader import load_capture
from ladder.cli.dispatch import main
from tests.archive_captures import rtp_capture, split_capture
from tests.conftest import SAMPLES, quick_subset, shared_path

# The module's fixtures (an archive split and indexed, every sample indexed) are built once: all
# its tests go to one xdist worker (``--dist loadgroup`` in pyproject.toml), not once per worker.
pytestmark = pytest.mark.xdist_group("archive-index")

WHOLE_COLUMNS = ("call_ids", "kind", "method", "caller", "callee", "caller_number", "callee_host", "start_ns",
                 "answer_ns", "end_ns", "duration_ns", "outcome", "status", "messages", "reference",
                 "mos_fwd", "mos_rev", "loss_fwd", "loss_rev", "participants", "legs")


def _sources() -> list[tuple[str, Path, int]]:
    return [
        ("two-proxies", SAMPLES / "rfc3665-3.2-session-through-two-proxies.pcap", 40),
        ("proxy-failure", SAMPLES / "rfc3665-3.4-successful-session-proxy-failure.pcap", 7),
    ]


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    """A directory per capture, each split into rotated files; the whole captures beside."""
    root = tmp_path_factory.mktemp("archive")
    whole = {}
    sources = _sources() + [("trunk", rtp_capture(root / "trunk.pcap", calls=8, seconds=3), 300)]
    for name, source, packets in sources:
        split_capture(source, root / "ring" / name, packets, gzip_every=3 if name == "trunk" else 0)
        whole[name] = source
    index = root / "index"
    report = build_index([str(root / "ring")], str(index), workers=1)
    assert not report.bad and report.stitched >= 3
    return SimpleNamespace(root=root, ring=root / "ring", index=index, whole=whole, report=report)


def _show(capsys, *argv: str) -> str:
    assert main(["show", *argv]) == 0
    return capsys.readouterr().out


def _call_ids(path: Path) -> list[str]:
    return [call.id for call in build_calls(load_capture(str(path)))]


def test_stitched_call_shown_as_the_unsplit_ladder(archive, capsys):
    rows = pq.read_table(archive.index / "calls.parquet").to_pylist()
    assert any(len(row["parts"]) > 2 for row in rows)  # calls do span the splits
    for name, whole in archive.whole.items():
        for call_id in _call_ids(whole):
            expected = _show(capsys, str(whole), "--call", call_id)
            shown = _show(capsys, str(archive.index), call_id)
            # Identical apart from the call's number on the first line.
            assert shown.split("\n", 1)[1] == expected.split("\n", 1)[1], (name, call_id)
            assert "RTP" in shown or name != "trunk"


def test_index_rows_are_the_unsplit_capture_rows(archive):
    rows = {row["call_id"]: row for row in pq.read_table(archive.index / "calls.parquet").to_pylist()}
    for whole in archive.whole.values():
        capture = load_capture(str(whole))
        for found in analyse_capture(capture, capture.last_ts_ns):
            expected, row = found["row"], rows[found["row"]["call_id"]]
            assert {k: row[k] for k in WHOLE_COLUMNS} == {k: expected[k] for k in WHOLE_COLUMNS}
    trunk = [r for r in rows.values() if r["caller"].startswith("caller")]
    assert len(trunk) == 8 and all(r["mos_fwd"] and r["mos_rev"] for r in trunk)
    assert sorted(r["row"] for r in rows.values()) == list(range(1, len(rows) + 1))


def test_index_deviations_are_those_of_ladder_check(archive, capsys):
    rows = {row["call_id"]: row for row in pq.read_table(archive.index / "calls.parquet").to_pylist()}
    for whole in archive.whole.values():
        main(["check", str(whole), "--json"])
        for result in json.loads(capsys.readouterr().out)["calls"]:
            row = rows[result["id"]]
            assert row["deviation_codes"] == sorted({d["code"] for d in result["deviations"]}), result["id"]
            assert row["reference"] == (result["reference"] or "")


def test_row_number_and_export_pcap_read_back_only_the_call(archive, capsys, tmp_path):
    whole = archive.whole["trunk"]
    call_id = _call_ids(whole)[3]
    row = search(str(archive.index), f"callid:{call_id}")[0]
    assert _show(capsys, str(archive.index), str(row["row"])) == _show(capsys, str(archive.index), call_id)
    assert main(["export", str(whole), "--call", call_id, "--pcap", str(tmp_path / "whole.pcap")]) == 0
    assert main(["export", str(archive.index), call_id, "--pcap", str(tmp_path / "index.pcap")]) == 0
    assert (tmp_path / "index.pcap").read_bytes() == (tmp_path / "whole.pcap").read_bytes()
    assert main(["show", str(archive.index), "no-such-call"]) == 2
    assert "no call 'no-such-call'" in capsys.readouterr().err


def _table(index: Path, name: str = "calls.parquet"):
    return pq.read_table(index / name)


@pytest.mark.slow  # starts a Dask scheduler and two worker processes; local processes: the URL tests
def test_local_processes_and_dask_cluster_give_the_same_index(archive):
    from distributed import LocalCluster

    local = archive.root / "index-local"
    report = build_index([str(archive.ring)], str(local), workers=2)
    assert report.scanned == archive.report.scanned
    assert _table(local).equals(_table(archive.index))
    cluster_index = archive.root / "index-cluster"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        build_index([str(archive.ring)], str(cluster_index), cluster=cluster.scheduler_address)
    assert _table(cluster_index).equals(_table(archive.index))


QUERIES = [
    "", "outcome:completed", "outcome:failed", "from:caller3", "to:/^callee[0-4]@/", "alice",
    "kind:call method:INVITE", "has:deviations", "!dev", "has:retransmission", "code:200",
    "since:2023-11-14T22:13:20.300Z", "until:2003-12-01", "since:2023-11-14 until:2023-11-14T22:13:20.400Z",
    "callid:bench-1", "re:example\\.com$", "'Alice'", "outcome:cancelled,busy",
    # every other kind of term: substrings and regexes of each text field, numbers, choices
    "to:callee", "to:CALLEE2", "from:/^caller[0-4]@/", "callid:/^bench-[0-3]$/", "CALLER1", "/invite/",
    "method:INVITE,REGISTER", "method:bye", "kind:registration", "kind:call,options", "code:486,603",
    "outcome:rejected", "outcome:in-call", "has:deviation", "has:one-way-media", "-dev",
    "from:example.com to:example.com since:2023-11-14T22:13:20.2 until:2023-11-14T22:13:20.5 !dev",
    "biloxi atlanta", "'no such text anywhere'",
]


@pytest.fixture(scope="module")
def samples_index(tmp_path_factory):
    """Every sample capture in its own directory (no stitching): calls, registrations, busy,
    cancelled, rejected, with and without deviations, for the filters the ring lacks."""
    root = tmp_path_factory.mktemp("samples")
    for capture in sorted(SAMPLES.glob("*.pcap")):
        (root / capture.stem).mkdir()
        shutil.copy(capture, root / capture.stem / capture.name)
    assert not build_index([str(root)], str(root / "index"), workers=1).bad
    return root / "index"


QUERIES += ["from:/^bob/", "callid:/@atlanta/", "code:487,486", "outcome:cancelled", "kind:registration outcome:failed",
            "to:biloxi has:deviations"]


@pytest.fixture(scope="module")
def indexed_rows(archive, samples_index) -> dict[Path, list[SimpleNamespace]]:
    """Each index's rows as the plain scan reads them, read once (the tests only read them)."""
    return {index: [SimpleNamespace(**row) for row in _table(index).to_pylist()]
            for index in (archive.index, samples_index)}


def _plain_scan(rows: list[SimpleNamespace], query: str) -> list[int]:
    predicates = [term_predicate(t) for t in parse_terms(query)]
    return [r.row for r in rows if all(p(r) for p in predicates)]


@pytest.mark.parametrize("query", QUERIES)
def test_search_equals_a_plain_scan(indexed_rows, query):
    for index, rows in indexed_rows.items():
        expected = _plain_scan(rows, query)
        assert [r["row"] for r in search(str(index), query)] == expected
        assert search(str(index), query, count=True) == len(expected)


def test_search_queries_select_some_rows_not_all(indexed_rows):
    """The comparison above is not vacuous: most filters pick some rows of an index but not all
    (counted by the plain scan, which the test above shows equal to the search's count)."""
    partial = [q for q in QUERIES
               if any(0 < len(_plain_scan(rows, q)) < len(rows) for rows in indexed_rows.values())]
    assert len(partial) >= len(QUERIES) * 2 // 3, sorted(set(QUERIES) - set(partial))


def test_search_limit_reads_the_first_rows_and_count_all(archive):
    everything = search(str(archive.index), "")
    assert [r["row"] for r in search(str(archive.index), "", limit=3)] == [r["row"] for r in everything[:3]]
    assert search(str(archive.index), "", count=True) == len(everything) == len(_table(archive.index))
    # the shown columns are those of the table, row for row
    table = {row["row"]: row for row in _table(archive.index).to_pylist()}
    assert all(row == {k: table[row["row"]][k] for k in row} for row in everything)


def test_ladder_search_prints_the_first_rows_and_counts_them_all(archive, capsys):
    total = len(_table(archive.index))
    assert main(["search", str(archive.index), "--limit", "2"]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 1 + 2
    assert f"{total} calls match; the first 2 shown" in captured.err
    assert main(["search", str(archive.index), "--limit", "0", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == total
    assert main(["search", str(archive.index), "--limit", "-1"]) == 2


def test_regex_prefilter_literal_is_in_every_match():
    import re

    from ladder.archive.search import required_literal

    cases = {r"sbc3$": "sbc3", r"^\+1555": "+1555", r"a|bc": "", r"ab(c|d)ef+g": "ab", r"x?yz": "yz",
             r"(?i)ABC": "abc", r"^Caller[0-4]@": "caller", r"[ab]+": "", r"\d{3}": "", r"(?x) a b c": "abc"}
    for pattern, literal in cases.items():
        compiled = re.compile(pattern, re.IGNORECASE | re.MULTILINE)
        assert required_literal(compiled) == literal, pattern


def test_index_without_search_columns_is_searched_and_rewritten(archive, tmp_path):
    """An index written before the search columns: the generic SQL gives the same rows, and
    the next ``ladder index`` run writes the columns (without reading a capture again)."""
    ring, index = tmp_path / "ring", tmp_path / "index"
    shutil.copytree(archive.ring, ring)
    build_index([str(ring)], str(index), workers=1)
    full = _table(index)
    pq.write_table(full.drop(["text", "from_text", "to_text", "callid_text"]), index / "calls.parquet")
    for query in ("alice", "from:caller3", "to:/^callee[0-4]@/", "callid:bench-1", "re:example\\.com$"):
        assert [r["row"] for r in search(str(index), query)] == [r["row"] for r in search(str(archive.index), query)]
    again = build_index([str(ring)], str(index), workers=1)
    assert again.scanned == 0 and _table(index).equals(full)


@pytest.mark.parametrize("scheme", ["file", "memory"])
def test_index_at_a_url_is_written_queried_and_updated(archive, tmp_path, capsys, scheme):
    """An fsspec URL instead of a directory (no S3-compatible server may be installed here:
    ``file://`` goes through fsspec's local filesystem, ``memory://`` is a store without
    rename, written by puts, as an object store is); DuckDB reads both through fsspec."""
    ring = tmp_path / "ring"
    shutil.copytree(archive.ring, ring)
    url = f"file://{tmp_path}/store/index" if scheme == "file" else f"memory://pcapladder-test/{tmp_path.name}"
    first = build_index([str(ring)], url, workers=2)
    assert first.scanned == first.files and not first.bad
    local = {r["row"]: r for r in _table(archive.index).drop(["parts", "signature"]).to_pylist()}
    for query in ("", "outcome:failed", "from:caller3 since:2023-11-14T22:13:20.2"):
        assert [r["row"] for r in search(url, query)] == [r["row"] for r in search(str(archive.index), query)]
    assert [r["call_ids"] for r in search(url, "")] == [local[n]["call_ids"] for n in sorted(local)]
    again = build_index([str(ring)], url, workers=1)
    assert (again.scanned, again.reused) == (0, first.files)
    split_capture(SAMPLES / "rfc3665-3.9-unsuccessful-busy.pcap", ring / "extra", 5)
    added = build_index([str(ring)], url, workers=1)
    assert added.scanned == len(list((ring / "extra").iterdir())) and search(url, "outcome:busy")
    build_index([str(ring)], str(tmp_path / "local"), workers=1)
    row = str(search(url, "outcome:busy")[0]["row"])
    assert _show(capsys, url, row) == _show(capsys, str(tmp_path / "local"), row)


def test_search_finds_a_stitched_call_by_number_and_time(archive, capsys):
    assert main(["search", str(archive.index), "from:caller3 since:2023-11-14T22:13:20.2 "
                 "until:2023-11-14T22:13:20.4 outcome:completed", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert [r["caller"] for r in found] == ["caller3@example.com"]
    assert found[0]["start"] == "2023-11-14T22:13:20.300Z"
    assert main(["search", str(archive.index), "since:yesterday"]) == 2
    assert "cannot read the time" in capsys.readouterr().err
    assert main([str(archive.index)]) == 0  # not on a terminal: the index's call list
    listed = capsys.readouterr().out.splitlines()
    assert listed[0].split()[:3] == ["row", "start", "from"] and len(listed) == 1 + len(_table(archive.index))


def test_filter_language_terms():
    with pytest.raises(FilterError):
        parse_terms("has:not-a-code")
    with pytest.raises(FilterError):
        parse_terms("code:4xx")
    row = SimpleNamespace(method="INVITE", caller="+1-555-0100@sbc", caller_number="+15550100", callee="bob@x",
                          call_ids=["a"], outcome="rejected 486", kind="call", reference="", deviations=1,
                          deviation_codes=["one-way-media"], status=486, start_ns=1_796_133_600_000_000_000)
    def matches(query: str) -> bool:
        return all(term_predicate(t)(row) for t in parse_terms(query))
    assert matches("from:+1555 outcome:failed has:one-way-media code:486,603")
    assert matches("since:2026-12-01T14:00 until:2026-12-01T14:00")  # until: the whole minute
    assert not matches("since:2026-12-01T14:00:01")
    assert not matches("outcome:completed") and not matches("has:no-media")


def test_incremental_runs_read_only_new_or_changed_files(archive, tmp_path):
    ring = tmp_path / "ring"
    shutil.copytree(archive.ring, ring)
    index = tmp_path / "index"
    first = build_index([str(ring)], str(index), workers=1)
    again = build_index([str(ring)], str(index), workers=1)
    assert (again.scanned, again.reused, again.stitched_reused) == (0, first.files, again.stitched)
    assert _table(index).drop(["parts", "signature"]).equals(_table(archive.index).drop(["parts", "signature"]))
    touched = sorted((ring / "trunk").iterdir())[0]
    os.utime(touched, ns=(1, 1))  # new mtime, same bytes: kept by its hash
    assert build_index([str(ring)], str(index), workers=1).scanned == 0
    extra = ring / "extra"
    split_capture(SAMPLES / "rfc3665-3.9-unsuccessful-busy.pcap", extra, 5)
    added = build_index([str(ring)], str(index), workers=1)
    assert added.scanned == len(list(extra.iterdir()))
    assert search(str(index), "outcome:busy")
    shutil.rmtree(extra)
    removed = build_index([str(ring)], str(index), workers=1)
    assert removed.scanned == 0 and not search(str(index), "outcome:busy")
    assert _table(index).drop(["parts", "signature"]).equals(_table(archive.index).drop(["parts", "signature"]))


def test_bad_files_are_reported_and_skipped(archive, tmp_path, capsys):
    ring = tmp_path / "ring"
    shutil.copytree(archive.ring / "two-proxies", ring)
    (ring / "garbage.pcap").write_bytes(b"this is not a capture at all")
    (ring / "empty.pcapng").write_bytes(b"")
    pieces = sorted(ring.glob("ring_*.pcap"))
    truncated = ring / "ring_99999_cut.pcap"
    truncated.write_bytes(pieces[-1].read_bytes()[:-10])
    assert main(["index", str(ring), "-o", str(tmp_path / "index"), "--workers", "1"]) == 0
    err = capsys.readouterr().err
    assert "skipped" in err and "garbage.pcap" in err and "empty.pcapng" in err
    assert "truncated" in err
    files = {Path(r["path"]).name: r for r in _table(tmp_path / "index", "files.parquet").to_pylist()}
    assert files["garbage.pcap"]["status"] == "error" and files[truncated.name]["status"] == "ok"
    assert len(search(str(tmp_path / "index"), "kind:call")) >= 1


_STITCHED = (("aaa.pcap", 50), ("sip-rtp-g711.pcap", 13))  # a capture, and the packets per rotated file


@pytest.mark.shared
@pytest.mark.parametrize("case", quick_subset(_STITCHED, [("sip-rtp-g711.pcap", 13)]))
def test_real_corpus_captures_stitched(case, tmp_path, capsys):
    name, packets = case
    whole = shared_path(f"captures/wireshark-wiki/{name}")
    split_capture(whole, tmp_path / "ring" / name, packets)
    build_index([str(tmp_path / "ring")], str(tmp_path / "index"), workers=1)
    call_ids = _call_ids(whole)
    assert call_ids
    for call_id in call_ids:
        expected = _show(capsys, str(whole), "--call", call_id)
        shown = _show(capsys, str(tmp_path / "index"), call_id)
        assert shown.split("\n", 1)[1] == expected.split("\n", 1)[1], (name, call_id)


def test_a_failure_on_one_file_or_call_loses_nothing_else(archive, tmp_path, monkeypatch):
    from ladder.archive import indexer as archive_index

    real_scan = archive_index.scan_file
    broken = sorted((archive.ring / "proxy-failure").iterdir())[3]

    def scan(path: str):
        if path == str(broken):
            raise ValueError("a decoder bug")
        return real_scan(path)

    def analyse(parts, call_ids, end_ns):
        if "bench-2@10.0.0.3" in call_ids:
            raise CaptureError("gone")
        return real_analyse(parts, call_ids, end_ns)

    from ladder.errors import CaptureError

    real_analyse = archive_index.analyse_parts
    monkeypatch.setattr(archive_index, "scan_file", scan)
    monkeypatch.setattr(archive_index, "analyse_parts", analyse)
    report = archive_index.build_index([str(archive.ring)], str(tmp_path / "index"), workers=1)
    assert [path for path, _error in report.bad] == [str(broken)]
    assert "internal error while reading it: ValueError: a decoder bug" in report.bad[0][1]
    assert any("bench-2@10.0.0.3: gone" in w for w in report.warnings)
    rows = {r["call_id"]: r for r in _table(tmp_path / "index").to_pylist()}
    assert rows["bench-2@10.0.0.3"]["outcome"] == "unreadable" and rows["bench-2@10.0.0.3"]["parts"]
    assert rows["bench-3@10.0.0.4"]["outcome"] == "completed"


def test_each_call_row_reports_what_ladder_check_draws_and_reports():
    """The index reads each call's check from the ladder's placement, undrawn; its reference and
    deviation codes are those of the check on the drawn ladder (``ladder check``'s text mode)."""
    from ladder.archive.scan import _references, call_record
    from ladder.check.call_check import check_call
    from ladder.check.rules import RuleSettings
    from ladder.draw.layout import build_ladder

    rows = deviating = 0
    for path in sorted(SAMPLES.glob("*.pcap")):
        capture = load_capture(path)
        for call in build_calls(capture):
            drawn = check_call(call, capture, _references(), ladder=build_ladder(call, capture, media=True),
                               settings=RuleSettings(end_ns=capture.last_ts_ns))
            row = call_record(call, capture, None, capture.last_ts_ns)
            assert (row["reference"], row["deviations"], row["deviation_codes"]) == (
                drawn.reference or "", len(drawn.deviations), sorted({d.code for d in drawn.deviations}))
            rows += 1
            deviating += bool(drawn.deviations)
    assert rows > 40 and deviating > 3

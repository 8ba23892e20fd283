"""One capture through ``ladder.capture.pipeline`` with a chosen RTP table, for the overhead benchmark.

``python3 bench/run_pipeline.py FILE --table statistics|counting|none``

* ``statistics``: the default ``RtpStreamTable()`` (what ``ladder stats`` runs);
* ``counting``: ``RtpStreamTable(statistics=False)``: RTP recognised (header checks, the
  heuristic, stream lookup) and counted, no statistics: the baseline of issue 4;
* ``none``: ``Pipeline(media=False)`` (what ``ladder stats --no-media`` runs).

It reads the file exactly as ``ladder.capture.loader`` does (``CaptureReader`` + ``feed_records``) and
prints one JSON line (frames, RTP packets, streams) so the runs can be checked against each
other. Timing and memory are measured from outside (bench/bench_ingest.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ladder.capture.reader import CaptureReader  # noqa: E402
from ladder.capture.pipeline import Pipeline  # noqa: E402
from ladder.media.streams import RtpStreamTable  # noqa: E402

TABLES = ("statistics", "counting", "none")


def run(path: str, table: str) -> dict:
    if table == "none":
        pipeline = Pipeline(media=False)
    else:
        pipeline = Pipeline(media_table=RtpStreamTable(statistics=table == "statistics"))
    with CaptureReader(path) as reader:
        pipeline.feed_records(reader.records(pipeline.accelerator()))
        pipeline.finish()
    return {"table": table, "frames": pipeline.frames, "rtp_packets": pipeline.frame_classes.get("rtp", 0),
            "rtp_streams": len(pipeline.streams), "sip_messages": len(pipeline.sip_messages)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file")
    parser.add_argument("--table", choices=TABLES, default="statistics")
    args = parser.parse_args(argv)
    print(json.dumps(run(args.file, args.table)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``ladder index PATH… -o INDEX``: index an archive of captures (see ``ladder.archive.indexer``)."""

from __future__ import annotations

import sys

from ladder.errors import UsageError


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "index", help="index an archive of captures (one row per call, Parquet)",
        description=(
            "Read capture files (pcap, pcapng, gzip; directories are walked, globs expanded) into an "
            "index of calls that 'ladder search', 'ladder show INDEX' and 'ladder INDEX' use. Run it "
            "again to add new or changed files; a call that spans rotated files of one directory is "
            "stitched into one row."
        ),
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="capture files, directories or globs")
    parser.add_argument("-o", "--output", required=True, metavar="INDEX", help="the index directory")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="local worker processes (default: one per core)")
    parser.add_argument("--cluster", metavar="ADDRESS",
                        help="a Dask distributed scheduler (tcp://host:8786) whose workers see the same paths")
    parser.set_defaults(func=run)


def run(args) -> int:
    from ladder.archive.indexer import build_index, print_report

    if args.workers is not None and args.workers < 1:
        raise UsageError("--workers must be at least 1")
    report = build_index(args.paths, args.output, workers=args.workers, cluster=args.cluster,
                         progress=lambda text: print(f"ladder: {text}", file=sys.stderr))
    print_report(report, args.output)
    return 0

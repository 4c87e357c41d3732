"""Export telemetry slices to rosbag2 (MCAP) bags and import MAVROS bags: the command line.

    python -m fleet_db.bagtool export --vehicles uav1,uav2 --from 2026-05-01T12:00Z \\
        --to 2026-05-01T13:00Z --out flight.bag
    python -m fleet_db.bagtool export --mission M-42 --out m42.bag
    python -m fleet_db.bagtool import flight.bag --map uav1=uav7

Exit status: 0 done, 1 the work failed (database, bag), 2 usage error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

from rosbags.rosbag2 import StoragePlugin

from fleet_db.bags import export_bag, import_bag
from fleet_db.db import URL_VARIABLE, FleetDbError, make_engine
from fleet_db.merge import DEFAULT_MAX_AGE

_STORAGES = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}


def iso_time(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an ISO 8601 time (e.g. 2026-05-01T12:00:00Z)") from None
    if parsed.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"{value!r} has no time zone; add Z or an offset such as +02:00")
    return parsed


def vehicle_list(value: str) -> list[str]:
    ids = [v.strip() for v in value.split(",")]
    if not all(ids):
        raise argparse.ArgumentTypeError(
            f"{value!r} has an empty vehicle id; expected a comma-separated list like uav1,uav2")
    return ids


def _mapping(value: str) -> tuple[str, str]:
    old, sep, new = value.partition("=")
    if not sep or not new.strip("/"):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not OLD=NEW with a non-empty NEW (OLD may be empty for /mavros/...)")
    return old.strip("/"), new.strip("/")


def _positive_seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds") from None
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"{value!r} must be more than 0 seconds")
    return seconds


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the bagtool command."""
    parser = argparse.ArgumentParser(
        prog="python -m fleet_db.bagtool",
        description="Export telemetry to rosbag2 bags as MAVROS topics, or import such bags.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--database-url", metavar="URL",
                        help=f"SQLAlchemy URL (default: ${URL_VARIABLE}, else the local database)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{export,import}")

    exp = sub.add_parser("export", parents=[common],
                         help="write a slice of the telemetry table to a new bag")
    exp.add_argument("--vehicles", type=vehicle_list, metavar="ID[,ID...]",
                     help="vehicle ids (default: every vehicle)")
    exp.add_argument("--from", dest="t0", type=iso_time, metavar="ISO",
                     help="slice start, inclusive (ISO 8601 with a time zone)")
    exp.add_argument("--to", dest="t1", type=iso_time, metavar="ISO",
                     help="slice end, inclusive (ISO 8601 with a time zone)")
    exp.add_argument("--mission", metavar="ID",
                     help="export the mission's vehicle from its start to its end instead")
    exp.add_argument("--out", required=True, type=Path, metavar="PATH",
                     help="bag directory to create (must not exist)")
    exp.add_argument("--storage", choices=sorted(_STORAGES), default="mcap",
                     help="rosbag2 storage plugin (default: mcap)")

    imp = sub.add_parser("import", parents=[common],
                         help="merge a bag's MAVROS topics into telemetry rows")
    imp.add_argument("path", type=Path, metavar="PATH",
                     help="bag directory, or a single .mcap or .db3 file")
    imp.add_argument("--map", dest="mappings", type=_mapping, action="append", default=[],
                     metavar="OLD=NEW", help="rename the vehicle of namespace OLD (repeatable)")
    imp.add_argument("--max-age", type=_positive_seconds,
                     default=DEFAULT_MAX_AGE.total_seconds(), metavar="SECONDS",
                     help="older values are not carried into a fix's row (default: %(default)s)")
    return parser


def _check_usage(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.command == "export":
        if args.mission is not None:
            given = [flag for flag, value in (("--vehicles", args.vehicles), ("--from", args.t0),
                                              ("--to", args.t1)) if value is not None]
            if given:
                parser.error(f"--mission {args.mission!r} sets the vehicle and the time window; "
                             f"drop {', '.join(given)}")
        elif args.t0 is None or args.t1 is None:
            missing = "--from" if args.t0 is None else "--to"
            parser.error(f"export needs --from and --to (missing {missing}), or --mission")
        elif args.t1 < args.t0:
            parser.error(f"--to {args.t1.isoformat()} is before --from {args.t0.isoformat()}")
        if args.out.exists():
            parser.error(f"--out {str(args.out)!r} exists already; bags are never overwritten")
    else:
        olds = [old for old, _ in args.mappings]
        duplicated = sorted({old for old in olds if olds.count(old) > 1})
        if duplicated:
            parser.error(f"--map gives {duplicated[0]!r} more than one new name")
        if not args.path.exists():
            parser.error(f"PATH {str(args.path)!r} does not exist")


def _run(args: argparse.Namespace) -> None:
    engine = make_engine(args.database_url)
    try:
        if args.command == "export":
            summary = export_bag(engine, args.out, args.vehicles, args.t0, args.t1,
                                 mission_id=args.mission, storage=_STORAGES[args.storage])
            print(f"wrote {summary.rows} rows of {len(summary.vehicles)} vehicle(s) "
                  f"({sum(summary.messages.values())} messages) to {summary.path}")
            for topic, count in sorted(summary.messages.items()):
                print(f"  {topic}: {count}")
        else:
            result = import_bag(engine, args.path, dict(args.mappings),
                                max_age=timedelta(seconds=args.max_age))
            print(f"imported {result.rows_imported} rows of {len(result.vehicles)} vehicle(s) "
                  f"from {result.path}; {result.duplicates_skipped} already stored; "
                  f"{result.messages_read} messages read")
            for topic, reasons in result.ignored.items():
                for reason, count in reasons.items():
                    print(f"  ignored {count} on {topic}: {reason}")
                if topic in result.examples:
                    print(f"    e.g. {result.examples[topic]}")
    finally:
        engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; return the exit status (argparse exits with 2 on usage errors)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _check_usage(parser, args)
    try:
        _run(args)
    except (FleetDbError, ValueError, OSError) as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

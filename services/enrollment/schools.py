"""Imports a schools CSV file (rules/schools.py) into enrollment's schema:

    python -m services.enrollment.schools import FILE.csv [--district CODE] [--replace]

Reads enrollment's settings (DATABASE_URL, PLATFORM_ENV) from the environment. The whole file
or nothing: a malformed row refuses it, each problem with its line and column. Schools are
matched by district and 学校标识码: new ones are added, changed ones updated, and importing
the same file again changes nothing. A school missing from the file is kept, unless
`--replace` is given: then the file is the whole list of each district it holds (with
`--district`, of that district, even if the file is empty) and the others are removed.
`--district` refuses a file holding another district's school. In production
(PLATFORM_ENV=production) a file with demo schools (demo=是) is refused.
"""

from __future__ import annotations

import argparse
import sys

import psycopg_pool

from common.csv_file import CsvFileError
from common.districts import BY_CODE
from services.enrollment.rules.schools import load_csv
from services.enrollment.settings import EnrollmentSettings
from services.enrollment.storage import SchoolImport, SchoolTable


def import_file(path: str, settings: EnrollmentSettings, district: str | None = None,
                replace: bool = False) -> SchoolImport:
    schools = load_csv(path, district, demo_allowed=not settings.production)
    if not replace:
        replaced = ()
    elif district is not None:
        replaced = (district,)
    else:
        replaced = tuple(sorted({school.district for school in schools}))
    with psycopg_pool.ConnectionPool(settings.DATABASE_URL, min_size=1, max_size=1,
                                     kwargs={"autocommit": True}) as pool:
        return SchoolTable(pool).import_schools(schools, replaced)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.enrollment.schools",
                                     description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser("import", help="import a schools CSV file")
    command.add_argument("file")
    command.add_argument("--district", choices=sorted(BY_CODE), metavar="CODE",
                         help="the file holds this district's schools only (common/districts.py)")
    command.add_argument("--replace", action="store_true",
                         help="remove the schools of the file's districts it does not hold")
    args = parser.parse_args(argv[1:])
    try:
        done = import_file(args.file, EnrollmentSettings(), args.district, args.replace)
    except (CsvFileError, OSError) as exc:
        print(f"schools not imported: {exc}", file=sys.stderr)
        return 1
    print(f"schools imported: {done.added} added, {done.changed} changed, "
          f"{done.unchanged} unchanged, {done.removed} removed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""Loads a registry CSV file into the embedded registry (VERIFICATION_REGISTRY=local):

    python -m services.verification.load_registry services/verification/demo_registry.csv

Reads verification's settings (DATABASE_URL, MASTER_KEYS) from the environment. The whole file
or nothing: a malformed row refuses it (each problem with its line, never a value). Loading
the same file again changes nothing; a record loaded again replaces the earlier one.
"""

from __future__ import annotations

import sys

import psycopg_pool

from common.csv_file import CsvFileError
from services.verification.registry import load_csv
from services.verification.settings import VerificationSettings
from services.verification.storage import RegistryTable


def load(path: str, settings: VerificationSettings) -> tuple[int, int]:
    data = load_csv(path)
    with psycopg_pool.ConnectionPool(settings.DATABASE_URL, min_size=1, max_size=1,
                                     kwargs={"autocommit": True}) as pool:
        return RegistryTable(pool, settings.master_keys).load(data)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        people, permits = load(argv[1], VerificationSettings())
    except (CsvFileError, OSError) as exc:
        print(f"registry not loaded: {exc}", file=sys.stderr)
        return 1
    print(f"registry loaded: {people} people, {permits} residence permits")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""Anchors the audit chain outside the database.

    python -m services.accounts.audit_anchor export [FILE]   # the newest entry, signed (JSON)
    python -m services.accounts.audit_anchor verify FILE     # the whole chain, and the anchor

Keep exported anchors where the database's administrators cannot change them (another
system, write-once storage, printed). `verify` checks every digest with the audit key and
that the anchored entry is still there unchanged, so entries cut off after it are noticed.
Reads `DATABASE_URL` (the accounts role may read the log) and `MASTER_KEYS`. Exit status 0
intact, 1 not intact, 2 usage.
"""

from __future__ import annotations

import json
import sys

import psycopg_pool

from services.accounts.settings import AccountsSettings
from services.accounts.storage import Keys, Store
from services.accounts.usecases.audit import export_audit_anchor, verify_audit_chain
from services.accounts.usecases.context import utcnow


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[1] not in ("export", "verify") or (
            argv[1] == "verify" and len(argv) != 3) or len(argv) > 3:
        print(__doc__, file=sys.stderr)
        return 2
    settings = AccountsSettings()
    with psycopg_pool.ConnectionPool(settings.DATABASE_URL, min_size=1, max_size=1,
                                     kwargs={"autocommit": True}) as pool:
        store = Store(pool, Keys(settings.master_keys))
        if argv[1] == "export":
            anchor = export_audit_anchor(store, utcnow())
            if anchor is None:
                print("the audit log is empty", file=sys.stderr)
                return 1
            text = json.dumps(anchor, indent=2) + "\n"
            if len(argv) == 3:
                with open(argv[2], "w") as out:
                    out.write(text)
            else:
                sys.stdout.write(text)
            return 0
        with open(argv[2]) as source:
            report = verify_audit_chain(store, json.load(source))
    print("intact" if report.intact else f"NOT INTACT: {report.problem}")
    return 0 if report.intact else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""The running platform's embedded population registry (VERIFICATION_REGISTRY=local), filled
by a test with the people it registered, so that their checks can pass (or fail as it means
them to)."""

from __future__ import annotations

import csv
import time

from services.verification import load_registry
from services.verification.settings import VerificationSettings
from tests.support.infra import settings_for

COLUMNS = ("document_type", "document_number", "name", "sex", "birth_date", "hukou_district",
           "permit_number", "permit_valid_from", "permit_valid_until", "permit_issuing_district")


def registry_holds(stack, *people: dict) -> None:
    """Loads `people` (COLUMNS' values) into verification's embedded registry, as
    `python -m services.verification.load_registry FILE.csv` does."""
    path = stack.workdir / f"registry-{time.monotonic_ns()}.csv"
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.DictWriter(file, COLUMNS, restval="")
        writer.writeheader()
        writer.writerows(people)
    settings = settings_for(VerificationSettings, stack.database_url, stack.env["AMQP_URI"])
    load_registry.load(str(path), settings)


def child_record(registration: dict, **overrides) -> dict:
    """The registered child (a registration's body) as the registry holds them."""
    return {"document_type": registration["document_type"],
            "document_number": registration["document_number"],
            "name": registration["child_name"], "sex": registration["sex"],
            "birth_date": registration["birth_date"],
            "hukou_district": registration["hukou_district"], **overrides}

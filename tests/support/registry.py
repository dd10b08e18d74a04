"""The running platform's embedded population registry (VERIFICATION_REGISTRY=local), filled
by a test with the children it registered, so that their checks can pass."""

from __future__ import annotations

from services.verification import load_registry
from services.verification.settings import VerificationSettings
from tests.support.infra import settings_for

HEADER = ("document_type,document_number,name,sex,birth_date,hukou_district,permit_number,"
          "permit_valid_from,permit_valid_until,permit_issuing_district")


def put_child(stack, child: dict, hukou_district: str = "haidian") -> None:
    """`child`: the registration's child_name, document_number, sex and birth_date."""
    path = stack.workdir / f"registry-{child['document_number']}.csv"
    path.write_text(f"{HEADER}\nresident_id,{child['document_number']},{child['child_name']},"
                    f"{child['sex']},{child['birth_date']},{hukou_district},,,,\n",
                    encoding="utf-8")
    settings = settings_for(VerificationSettings, stack.database_url, stack.env["AMQP_URI"])
    assert load_registry.load(str(path), settings) == (1, 0)

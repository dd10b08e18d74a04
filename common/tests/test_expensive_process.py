"""A service whose contract serves its expensive methods apart is split in two nameko services
(common/edge/expensive_process.py); the others are left whole."""

from __future__ import annotations

import inspect

from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR

from common.edge.expensive_process import split
from common.services import HEALTH_CHECKED, served_as
from services.accounts.service import AccountsService
from services.enrollment.contract import DistrictRpc, EnrollmentRpc
from services.enrollment.service import EnrollmentService


def entrypoints(service_cls) -> set[str]:
    return {name for name, function in inspect.getmembers(service_cls, inspect.isfunction)
            if getattr(function, ENTRYPOINT_EXTENSIONS_ATTR, None)}


def test_enrollment_serves_its_expensive_methods_from_a_process_of_their_own():
    whole = entrypoints(EnrollmentService)
    expensive = {name for name, method in {**EnrollmentRpc.methods(),
                                           **DistrictRpc.methods()}.items() if method.apart}
    assert {"district_bulk_review", "district_publish", "district_import_schools"} <= expensive

    cheap_part, expensive_part = split(EnrollmentService)
    assert (cheap_part.name, expensive_part.name) == ("enrollment", "enrollment-expensive")
    assert entrypoints(expensive_part) == expensive | {"ping"}  # no timer, no event handler
    assert entrypoints(cheap_part) == whole - expensive
    assert served_as("enrollment", "district_bulk_review") == "enrollment-expensive"
    assert served_as("enrollment", "district_review_item") == "enrollment"
    assert "enrollment-expensive" in HEALTH_CHECKED


def test_a_service_without_methods_served_apart_stays_whole():
    assert split(AccountsService) == (AccountsService, None)
    assert served_as("accounts", "register") == "accounts"

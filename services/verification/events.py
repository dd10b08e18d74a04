"""What verification reads from enrollment's `details_submitted` event: a CheckRequest.

Only the fields a check needs are taken (the household head, the hukou address and the
guardians' relations are none of its business); fields enrollment adds later are ignored.
"""

from __future__ import annotations

from pydantic import ValidationError

from common.districts import OUTSIDE_BEIJING
from services.verification.rules.checks import CheckRequest


class MalformedEvent(ValueError):
    """An event a check cannot be made of; the message names fields, never values."""


def check_request(payload: dict) -> CheckRequest:
    """The CheckRequest of a `details_submitted` payload. The child's hukou: the district
    (本市户籍, `household.hukou_district`) or outside Beijing (非本市户籍, whose
    `household.hukou_region` is a county elsewhere: the registry knows it as `outside`)."""
    try:
        household = payload.get("household") or {}
        hukou_type = payload.get("hukou_type")
        child = payload.get("child") or {}
        request = {
            "account_no": payload.get("account_no"),
            "version": payload.get("version"),
            "child": {key: child.get(key) for key in
                      ("name", "document_type", "document_number", "birth_date", "sex")},
            "hukou_type": hukou_type,
            "hukou_district": (household.get("hukou_district") if hukou_type == "beijing"
                               else OUTSIDE_BEIJING),
            "district": payload.get("district"),
            "residence_district": payload.get("residence_district"),
            "residence_permits": [
                {key: permit.get(key) for key in ("holder_name", "holder_document_number",
                                                   "permit_number", "valid_until",
                                                   "issuing_district")}
                for permit in payload.get("residence_permits") or []],
            "reference_date": payload.get("reference_date"),
        }
        return CheckRequest.model_validate(request)
    except ValidationError as exc:
        raise MalformedEvent(", ".join(sorted({
            ".".join(str(part) for part in error["loc"]) or "event"
            for error in exc.errors()}))) from None
    except (AttributeError, TypeError):
        raise MalformedEvent("event") from None

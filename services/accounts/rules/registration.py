"""What makes a registration acceptable, apart from codes, tokens and uniqueness (storage)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from common.districts import BY_CODE, OUTSIDE_BEIJING
from common.errors import DomainError
from services.accounts.rules.age import check_primary_entry_age
from services.accounts.rules.identity import normalize_id_number
from services.accounts.rules.passwords import check_password_policy


@dataclass(frozen=True)
class CheckedRegistration:
    """A registration that passed every rule, with the document number normalised."""
    district: str
    hukou_type: str
    document_type: str
    document_number: str
    birth_date: date
    personal: dict  # everything to encrypt at rest


def _invalid(field: str, message: str) -> DomainError:
    return DomainError("VALIDATION_ERROR", fields={field: message})


def parse_birth_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise _invalid("birth_date", "出生日期格式应为 YYYY-MM-DD，且须为真实日期。") from None


def check_registration(reg, season_year: int, policy_version: str) -> CheckedRegistration:
    """`reg` is a services.accounts.contract.Registration. Raises the first rule it breaks."""
    if not reg.privacy_consent:
        raise DomainError("CONSENT_REQUIRED", fields={"privacy_consent": "请阅读并勾选同意。"})
    if reg.privacy_policy_version != policy_version:
        raise DomainError("CONSENT_REQUIRED", "《个人信息保护政策》已更新，请重新阅读并同意。",
                          fields={"privacy_consent": "请重新阅读并同意最新版本。"})
    if reg.district not in BY_CODE:
        raise _invalid("district", "请选择入学区。")
    if reg.residence_district not in BY_CODE:
        raise _invalid("residence_district", "请选择居住地所在区。")
    if reg.hukou_type == "beijing" and reg.hukou_district not in BY_CODE:
        raise _invalid("hukou_district", "本市户籍儿童请选择户籍所在区。")
    if reg.hukou_type == "non_beijing" and reg.hukou_district != OUTSIDE_BEIJING:
        raise _invalid("hukou_district", "非本市户籍儿童的户籍所在地应为“京外”。")
    if reg.district not in (reg.hukou_district, reg.residence_district):
        raise DomainError("DISTRICT_MISMATCH", fields={
            "residence_district": "户籍或居住地须至少有一项与所选入学区一致。"})
    birth_date = parse_birth_date(reg.birth_date)
    check_primary_entry_age(birth_date, season_year)
    number = normalize_id_number(reg.document_type, reg.document_number, birth_date, reg.sex)
    check_password_policy(reg.password, reg.password_confirm)
    personal = {
        "child_name": reg.child_name,
        "document_number": number,
        "sex": reg.sex,
        "birth_date": birth_date.isoformat(),
        "hukou_district": reg.hukou_district,
        "residence_district": reg.residence_district,
        "residence_address": reg.residence_address,
        "guardian_name": reg.guardian_name,
        "guardian_relation": reg.guardian_relation,
        "guardian_phone": reg.guardian_phone,
    }
    return CheckedRegistration(reg.district, reg.hukou_type, reg.document_type, number,
                               birth_date, personal)

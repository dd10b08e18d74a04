"""Demo data for `make run`: registered families, so a newcomer can sign in at once.

`python -m services.accounts.demo` registers them through the accounts use cases themselves
(the rules, the SMS code, argon2id; the operator skips reading the notice and the image
captcha), in-process and without sending a text, then prints how to sign in to each, one line
per family: `<account no> <password> <sign-in path> <who>`. Running it again only prints.
Refuses to run in production.

Each child is a resident of services/verification/demo_registry.csv; the details each family
enters (`python -m services.enrollment.demo`) take it to its state of the journey.
"""

from __future__ import annotations

import re
import sys

import psycopg_pool

from common.districts import district_name
from services.accounts.bootstrap import AccountsApp, build
from services.accounts.contract import HUKOU_TYPES, Registration, SmsCodeRequest
from services.accounts.settings import AccountsSettings

PASSWORD = "Demo2027a"
# The demo's own client address (RFC 5737, documentation only): its codes and registrations
# count against no address a newcomer's browser uses, so the per-address limits stay whole.
DEMO_CLIENT_IP = "192.0.2.1"
_EVERY_FAMILY = {"document_type": "resident_id", "password": PASSWORD,
                 "password_confirm": PASSWORD, "privacy_consent": True,
                 "client_ip": DEMO_CLIENT_IP}

DEMO_FAMILIES = (
    {**_EVERY_FAMILY, "district": "haidian", "hukou_type": "beijing", "child_name": "王小明",
     "document_number": "110108202009010019", "sex": "male", "birth_date": "2020-09-01",
     "hukou_district": "haidian", "residence_district": "haidian",
     "residence_address": "海淀区示例路1号", "guardian_name": "王大明",
     "guardian_relation": "father", "guardian_phone": "13800138000"},
    {**_EVERY_FAMILY, "district": "xicheng", "hukou_type": "beijing", "child_name": "赵一诺",
     "document_number": "110102202011200040", "sex": "female", "birth_date": "2020-11-20",
     "hukou_district": "xicheng", "residence_district": "xicheng",
     "residence_address": "西城区示例胡同2号", "guardian_name": "赵志刚",
     "guardian_relation": "father", "guardian_phone": "13800138001"},
    {**_EVERY_FAMILY, "district": "chaoyang", "hukou_type": "beijing", "child_name": "李小红",
     "document_number": "110105202103150027", "sex": "female", "birth_date": "2021-03-15",
     "hukou_district": "chaoyang", "residence_district": "chaoyang",
     "residence_address": "朝阳区示例街3号", "guardian_name": "李娟",
     "guardian_relation": "mother", "guardian_phone": "13800138002"},
    {**_EVERY_FAMILY, "district": "chaoyang", "hukou_type": "non_beijing",
     "child_name": "陈思远", "document_number": "370102202012050054", "sex": "male",
     "birth_date": "2020-12-05", "hukou_district": "outside", "residence_district": "chaoyang",
     "residence_address": "朝阳区示例街4号", "guardian_name": "陈建国",
     "guardian_relation": "father", "guardian_phone": "13800138003"},
    # The family names 朝阳区 as the hukou district; the registry holds 通州区.
    {**_EVERY_FAMILY, "district": "chaoyang", "hukou_type": "beijing", "child_name": "刘浩然",
     "document_number": "110112202101080030", "sex": "male", "birth_date": "2021-01-08",
     "hukou_district": "chaoyang", "residence_district": "chaoyang",
     "residence_address": "朝阳区示例街5号", "guardian_name": "刘强",
     "guardian_relation": "father", "guardian_phone": "13800138004"},
    # Verified, pre-registered at a demo school, approved, and 延庆区 published its results
    # (no other demo family or resident is in 延庆区: a published district has no 未公布 left).
    {**_EVERY_FAMILY, "district": "yanqing", "hukou_type": "beijing", "child_name": "孙悦",
     "document_number": "110229202010100027", "sex": "female", "birth_date": "2020-10-10",
     "hukou_district": "yanqing", "residence_district": "yanqing",
     "residence_address": "延庆区示例胡同6号", "guardian_name": "孙伟",
     "guardian_relation": "father", "guardian_phone": "13800138005"},
)
DEMO = DEMO_FAMILIES[0]


def demo_app(settings: AccountsSettings, pool) -> AccountsApp:
    """The accounts use cases in this process, publishing nothing (no relay)."""
    # The operator seeds these families: no one reads the notice or types the captcha.
    return build(settings.model_copy(update={"CAPTCHA_BACKEND": "fixed", "NOTICE_MIN_READ_S": 0}),
                 pool)


def register_demo_family(app: AccountsApp, family: dict) -> str:
    """The demo family's account number, registering it first if needed."""
    store = app.context.store
    with store.statements() as db:
        found = db.account_by_document(app.context.lookup("document", family["document_number"]))
    if found:
        return found.account_no
    notice = app.registrations.notice()
    captcha = app.captchas.create()
    issued = []  # the code's event, taken before any relay sees it: the demo texts nobody
    store.publish_committed = issued.extend
    app.sms_codes.request(SmsCodeRequest(
        purpose="register", phone=family["guardian_phone"], captcha_id=captcha.captcha_id,
        captcha_answer=app.context.settings.CAPTCHA_FIXED_ANSWER, client_ip=DEMO_CLIENT_IP))
    with store.transaction() as tx:
        tx.drop_events([event.id for event in issued])
    result = app.registrations.register(Registration(
        **family, sms_code=re.search(r"\d{6}", issued[0].body["text"]).group(),
        notice_token=notice.notice_token, privacy_policy_version=notice.privacy_policy_version))
    return result.account_no


def main() -> int:
    settings = AccountsSettings()
    if settings.production:
        print("demo data is for development only", file=sys.stderr)
        return 2
    with psycopg_pool.ConnectionPool(settings.DATABASE_URL, min_size=1, max_size=2,
                                     kwargs={"autocommit": True}) as pool:
        app = demo_app(settings, pool)
        for family in DEMO_FAMILIES:
            account_no = register_demo_family(app, family)
            print(f"{account_no} {PASSWORD} /d/{family['district']}/{family['hukou_type']} "
                  f"{family['child_name']} · {district_name(family['district'])} · "
                  f"{HUKOU_TYPES[family['hukou_type']]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

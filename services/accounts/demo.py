"""Demo data for `make run`: one registered family, so a newcomer can sign in at once.

`python -m services.accounts.demo` registers it through the accounts use cases themselves
(the rules, the SMS code, argon2id; the operator skips reading the notice and the image
captcha), in-process and without sending a text, then prints how to sign in. Running it
again only prints. Refuses to run in production.
"""

from __future__ import annotations

import re
import sys

import psycopg_pool

from services.accounts.bootstrap import AccountsApp, build
from services.accounts.contract import Registration, SmsCodeRequest
from services.accounts.settings import AccountsSettings

DEMO = {"district": "haidian", "hukou_type": "beijing", "child_name": "王小明",
        "document_type": "resident_id", "document_number": "110108202009010019",
        "sex": "male", "birth_date": "2020-09-01", "hukou_district": "haidian",
        "residence_district": "haidian", "residence_address": "海淀区示例路1号",
        "guardian_name": "王大明", "guardian_relation": "father",
        "guardian_phone": "13800138000", "password": "Demo2027a",
        "password_confirm": "Demo2027a", "privacy_consent": True, "client_ip": "127.0.0.1"}


def demo_app(settings: AccountsSettings, pool) -> AccountsApp:
    """The accounts use cases in this process, publishing nothing (no relay)."""
    # The operator seeds this family: no one reads the notice or types the captcha.
    return build(settings.model_copy(update={"CAPTCHA_BACKEND": "fixed", "NOTICE_MIN_READ_S": 0}),
                 pool)


def register_demo_family(app: AccountsApp) -> str:
    """The demo family's account number, registering it first if needed."""
    store = app.context.store
    with store.statements() as db:
        found = db.account_by_document(app.context.lookup("document", DEMO["document_number"]))
    if found:
        return found.account_no
    notice = app.registrations.notice()
    captcha = app.captchas.create()
    issued = []  # the code's event, taken before any relay sees it: the demo texts nobody
    store.publish_committed = issued.extend
    app.sms_codes.request(SmsCodeRequest(
        purpose="register", phone=DEMO["guardian_phone"], captcha_id=captcha.captcha_id,
        captcha_answer=app.context.settings.CAPTCHA_FIXED_ANSWER, client_ip="127.0.0.1"))
    with store.transaction() as tx:
        tx.drop_events([event.id for event in issued])
    result = app.registrations.register(Registration(
        **DEMO, sms_code=re.search(r"\d{6}", issued[0].body["text"]).group(),
        notice_token=notice.notice_token, privacy_policy_version=notice.privacy_policy_version))
    return result.account_no


def main() -> int:
    settings = AccountsSettings()
    if settings.production:
        print("demo data is for development only", file=sys.stderr)
        return 2
    with psycopg_pool.ConnectionPool(settings.DATABASE_URL, min_size=1, max_size=2,
                                     kwargs={"autocommit": True}) as pool:
        account_no = register_demo_family(demo_app(settings, pool))
    print(f"demo family: account {account_no}, password {DEMO['password']} "
          f"(海淀区 · 本市户籍; sign in at /d/haidian/beijing)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

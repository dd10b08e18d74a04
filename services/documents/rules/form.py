"""What the form prints and when it is rendered again, and what a check of a printout answers:
pure functions over enrollment's FormData and FormStanding."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from urllib.parse import urlsplit

from services.documents.rules.token import FormToken
from services.enrollment.contract import FormData, FormStanding
from services.enrollment.rules.season import BEIJING


def file_name(account_no: str, version: int) -> str:
    return f"学龄人口信息采集表-{account_no}-第{version}版.pdf"


def data_digest(form: FormData, template: str) -> str:
    """Changes with anything the form prints, and with the template: the cached form is
    rendered again then (within its version, under the version's first issue time)."""
    document = json.dumps([template, form.model_dump(mode="json")], ensure_ascii=False,
                          sort_keys=True)
    return hashlib.sha256(document.encode()).hexdigest()


def verify_url(public_base_url: str, token: str) -> str:
    return f"{public_base_url.rstrip('/')}/verify/{token}"


def beijing_day(moment: datetime) -> str:
    day = moment.astimezone(BEIJING)
    return f"{day.year}年{day.month}月{day.day}日"


def render_job(form: FormData, url: str, issued_at: datetime) -> dict:
    """What the template gets (render.py), all of it plain data (it crosses to a worker)."""
    submitted = datetime.fromisoformat(form.submitted_at) if form.submitted_at else None
    return {"form": form.model_dump(mode="json"), "verify_url": url,
            "verify_host": "{0.scheme}://{0.netloc}".format(urlsplit(url)),
            "issued": beijing_day(issued_at),
            "submitted": (submitted.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")
                          if submitted else "")}


def check(token: FormToken, standing: FormStanding | None) -> dict:
    """A printout against the family's application now (FormCheck): genuine while its version
    is the submitted one; superseded once a newer version was submitted; withdrawn when its
    version was withdrawn and not resubmitted, or the application is gone (the account was
    cancelled). Nothing personal beyond the masked name, and nothing at all once withdrawn."""
    answer = {"version": token.version, "issued_at": token.issued_at.isoformat()}
    if standing is None or standing.version < token.version:
        return {**answer, "status": "withdrawn"}
    named = {"child_name": standing.child_name, "district_name": standing.district_name}
    if standing.version > token.version:
        return {**answer, **named, "status": "superseded",
                "current_version": standing.version}
    if not standing.submitted:
        return {**answer, "status": "withdrawn", "district_name": standing.district_name}
    return {**answer, **named, "status": "genuine"}

"""A district system on the running platform: its own broker user opens a family's application
with a stated purpose, and the family sees that look on its status page and in the API
(the committee, the time, the purpose; never the staff id)."""

from __future__ import annotations

import pytest

from services.enrollment.contract import ApplicationLookup
from tests.e2e.test_details_pages import signed_in, status_text
from tests.support.infra import district_clients


@pytest.fixture
def haidian(stack):
    with district_clients(stack.env["AMQP_URI"], ("haidian",)) as clients:
        yield clients["haidian"]


def test_a_districts_look_is_shown_to_the_family_without_the_staff_id(stack, haidian):
    visitor, _ = signed_in(stack)  # registered in 海淀
    assert "暂无查看记录" in status_text(visitor)
    account_no = visitor.get("/api/v1/account").json()["account_no"]

    shown = haidian.district_show_application(ApplicationLookup(
        account_no=account_no, purpose="核对入学登记信息", operator="hd0042"))
    assert shown.account_no == account_no and shown.district == "haidian"

    text = status_text(visitor)
    assert "北京市海淀区教育委员会" in text and "事由：核对入学登记信息" in text
    assert "hd0042" not in visitor.get("/status").text
    [access] = visitor.get("/api/v1/application/accesses").json()["accesses"]
    assert (access["district_name"], access["agency"], access["purpose"]) == (
        "北京市海淀区教育委员会", None, "核对入学登记信息")
    assert "hd0042" not in str(access)

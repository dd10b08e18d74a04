"""Where the family stands on its journey (信息采集导航): enrollment's to say.

The gateway asks enrollment with the account number of the session it resolved. An
application is opened by enrollment from accounts' `family_registered` event, asynchronously:
for a moment after registration enrollment knows no application yet and answers
APPLICATION_NOT_FOUND. The account exists (accounts just resolved the session), so the family
has simply not started: the gateway answers the journey of an application nothing was done on
yet, rather than an error, without waiting for the event.
"""

from __future__ import annotations

from common.errors import DomainError
from services.accounts.contract import AccountView
from services.enrollment.contract import AccountRef, Journey, JourneyStep

# The details step's title by hukou type, as the seasons name their forms, for the moment
# before enrollment has the application.
DETAILS_TITLES = {"non_beijing": "录入相关审核材料信息"}
DEFAULT_DETAILS_TITLE = "录入详细信息"
NOT_STARTED_NEXT_STEP = "您的入学信息正在准备中，请稍后刷新本页面。"


def not_started(account: AccountView) -> Journey:
    """Enrollment's journey view of an application nothing was done on yet."""
    title = DETAILS_TITLES.get(account.hukou_type, DEFAULT_DETAILS_TITLE)
    return Journey(steps=[
        JourneyStep(key="details", title=title, status="empty", label="未填写", open=False),
        JourneyStep(key="verification", title="身份证及户籍信息核验", status="not_submitted",
                    label="未提交", open=False)],
        next_step=NOT_STARTED_NEXT_STEP)


def journey_of(enrollment, account: AccountView) -> Journey:
    """The family's journey from enrollment (`enrollment`: its typed client). RpcUnavailable
    and other refusals are the caller's."""
    try:
        return enrollment.get_journey(AccountRef(account_no=account.account_no))
    except DomainError as error:
        if error.code != "APPLICATION_NOT_FOUND":
            raise
        return not_started(account)

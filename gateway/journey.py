"""Where the family stands on its journey (信息采集导航): enrollment's to say.

The gateway asks enrollment with the account number and hukou type of the session it resolved.
Enrollment opens the application from accounts' `family_registered` event, a moment after
registration; until then it answers the journey of an application nothing was done on yet, so
the family sees every step at once.
"""

from __future__ import annotations

from services.accounts.contract import AccountView
from services.enrollment.contract import Journey, JourneyRequest


def journey_of(enrollment, account: AccountView) -> Journey:
    """The family's journey from enrollment (`enrollment`: its typed client)."""
    return enrollment.get_journey(JourneyRequest(account_no=account.account_no,
                                                 hukou_type=account.hukou_type))

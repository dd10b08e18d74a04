"""Enrollment's FormData of the sample families (services/enrollment/tests/samples.py), as its
service answers them, made through its use cases in memory."""

from __future__ import annotations

from services.enrollment.bootstrap import EnrollmentApp
from services.enrollment.contract import FormData
from services.enrollment.tests.samples import ALWAYS_OPEN, Clock, verified_family
from services.enrollment.usecases import review
from services.enrollment.usecases.context import Context
from services.enrollment.usecases.memory_store import MemoryStore

ACCOUNT = "27000001"


def form_data(hukou_type: str = "non_beijing", approved: bool = True) -> FormData:
    store, clock = MemoryStore(), Clock()
    context = Context(store, ALWAYS_OPEN, clock)
    verified_family(context, ACCOUNT, hukou_type=hukou_type)
    if hukou_type == "non_beijing" and approved:
        review.start_review(context, ACCOUNT, 1)
        for item in ALWAYS_OPEN.review_items:
            review.record_result(context, ACCOUNT, 1, item, True)
    return FormData.model_validate(EnrollmentApp(store, ALWAYS_OPEN, clock)
                                   .get_form_data(ACCOUNT))

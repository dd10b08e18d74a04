"""The family's details pages: 录入详细信息 (本市户籍) / 录入相关审核材料信息 (非本市户籍), the
summary to check before submitting, 查看信息审核状态 (with the 入学资格审核 item by item), and
查看入学结果.

Mixed into GatewayService next to PageRoutes, whose helpers it uses. The form is drawn from
enrollment's form view (the season file, gateway.details_form), never field by field here:
暂存 saves a draft; 下一步：核对信息 shows what will be submitted, carried in hidden fields, with
返回修改 and 确认提交; a refusal shows the form again with each message next to its field.
Each handler resolves the session (accounts), then reads the details (enrollment) before it
acts; the status page also reads the journey, the history and who looked at the family's data,
the results page the result.
"""

from __future__ import annotations

from werkzeug.utils import redirect

from common.errors import DomainError
from gateway import details_form
from gateway.journey import journey_of
from gateway.pages import beijing_time, refusal
from gateway.web import route
from services.accounts import contract as accounts
from services.enrollment.contract import (
    AccountRef,
    DetailsChange,
    DetailsView,
    FormView,
    RegistrationFacts,
    ReviewState,
)

NOTICES = {"saved": "已暂存。信息尚未提交，核对无误后请点击“下一步：核对信息”并确认提交。",
           "withdrawn": "已撤回，可修改后重新提交。"}


def steps(form: FormView) -> tuple[str, ...]:
    """Where the family is, drawn above each details page."""
    return ("信息采集导航", form.title, "核对并提交", "信息核验", "打印信息采集表",
            "查看入学结果")


FORM_STEP, RESULTS_STEP = 4, 5


def step_of(details: DetailsView) -> int:
    """The family fills in the form until it submits; then the check is theirs to follow."""
    return 3 if details.state.details == "submitted" else 1


def review_advice(review: ReviewState | None, details: DetailsView) -> str | None:
    """What to do about the items the district did not pass: the same for every such item."""
    if review is None or all(result.passed for result in review.results):
        return None
    if review.status == "in_review":
        return ("区教委正在审核其余材料。全部审核完成后，您可以按上述原因修改不通过的材料信息"
                f"并重新提交（信息采集时间：{details.collection_period}）。")
    if "withdraw" in details.actions:
        return ("请点击“撤回并修改信息”，按上述原因修改或补充不通过的材料信息，并在信息采集"
                f"时间内（{details.collection_period}）重新提交；重新提交后将重新核验和审核。")
    return "信息采集已结束，不能再修改已提交的信息。请联系入学所在区教委。"


def registration_rows(registration: RegistrationFacts) -> list[tuple[str, str]]:
    """The registration facts, masked, read-only (注册时填写的基本信息不能修改)."""
    return [("账号", registration.account_no), ("儿童姓名", registration.child_name),
            ("证件类型", accounts.DOCUMENT_TYPES[registration.document_type]),
            ("证件号码", registration.document_number),
            ("性别", accounts.SEXES[registration.sex]),
            ("户籍类型", accounts.HUKOU_TYPES[registration.hukou_type].removesuffix("适龄儿童")),
            ("入学区", registration.district_name)]


class DetailsRoutes:
    """Mixed into GatewayService before PageRoutes: uses its `_member_page`, `_check_csrf`,
    `_session_token`, and the service's `accounts` and `enrollment`."""

    @route("GET", "/details")
    def details_page(self, request):
        token, account, details = self._member_details(request)
        if details is None:
            return redirect("/home", 303)
        return self._details_form(request, token, account, details,
                                  notice=NOTICES.get(request.args.get("done", "")))

    @route("POST", "/details")
    def details_post(self, request):
        """action: save_draft, review (the summary), edit (back from it), submit."""
        token, account, details = self._member_details(request)
        if details is None:
            return redirect("/home", 303)
        data = details_form.parse(details.form, request.form)
        action = request.form.get("action")
        try:
            self._check_csrf(request, token, "session")
            if action == "review":
                return self._member_page(request, token, "details_summary.html",
                                         account=account, details=details,
                                         steps=steps(details.form), step=2,
                                         entered=details_form.summary(details.form, data),
                                         registration=registration_rows(details.registration),
                                         carried=details_form.values(details.form, data))
            change = DetailsChange(account_no=account.account_no, data=data)
            if action == "save_draft":
                self.enrollment.save_draft(change)
                return redirect("/details?done=saved", 303)
            if action == "submit":
                self.enrollment.submit(change)
                return redirect("/status", 303)
        except DomainError as error:
            return self._details_form(request, token, account, details, data, error)
        return self._details_form(request, token, account, details, data)  # 返回修改

    @route("POST", "/details/withdraw")
    def details_withdraw(self, request):
        token = self._session_token(request)
        self._check_csrf(request, token, "session")
        account = self.accounts.get_account(token)
        ref = AccountRef(account_no=account.account_no)
        try:
            self.enrollment.withdraw(ref)
        except DomainError as error:
            return self._details_form(request, token, account,
                                      self.enrollment.get_details(ref), error=error)
        return redirect("/details?done=withdrawn", 303)

    def _details_form(self, request, token, account, details, data=None, error=None,
                      notice=None):
        """The form, filled in with `data` (what was posted) or the details kept; read-only
        once it can no longer be saved (submitted, or outside the collection period)."""
        form = details.form
        data = details.data if data is None else data
        editable = "save_draft" in details.actions
        blocks = details_form.layout(form)
        return self._member_page(
            request, token, "details.html", account=account, details=details, notice=notice,
            editable=editable, blocks=blocks if editable else (),
            entered=details_form.summary(form, data), values=details_form.values(form, data),
            registration=registration_rows(details.registration),
            steps=steps(form), step=step_of(details),
            **refusal(error, {field.name for block in blocks for field in block.fields}))

    @route("GET", "/status")
    def status_page(self, request):
        """查看信息审核状态: where the details stand, what to do next, every submission."""
        token, account, details = self._member_details(request)
        if details is None:
            return redirect("/home", 303)
        ref = AccountRef(account_no=account.account_no)
        journey = journey_of(self.enrollment, account)
        history = [{**entry.model_dump(), "submitted_at": beijing_time(entry.submitted_at),
                    "entered": details_form.summary(details.form, entry.data)}
                   for entry in self.enrollment.get_history(ref)]
        accesses = [{**access.model_dump(), "at": beijing_time(access.at)}
                    for access in self.enrollment.get_accesses(ref)]
        state = details.state
        review = state.review
        refused = state.verification is not None and state.verification.status == "failed" \
            or review is not None and review.status == "returned"
        return self._member_page(request, token, "status.html", account=account,
                                 details=details, history=history, accesses=accesses,
                                 journey={step.key: step for step in journey.steps},
                                 next_step=journey.next_step, steps=steps(details.form),
                                 step=step_of(details), review=review,
                                 advice=review_advice(review, details),
                                 correctable=refused and "withdraw" in details.actions)

    @route("GET", "/results")
    def results_page(self, request):
        """查看入学结果: the district's schedule before it publishes; then the school, when to
        report and what to bring, or what to do without a place."""
        token, account, details = self._member_details(request)
        if details is None:
            return redirect("/home", 303)
        result = self.enrollment.get_result(AccountRef(account_no=account.account_no))
        published_at = result.published_at and beijing_time(result.published_at)
        return self._member_page(request, token, "results.html", account=account,
                                 result=result, published_at=published_at,
                                 steps=steps(details.form),
                                 step=step_of(details) if result.status == "not_published"
                                 else RESULTS_STEP)

    def _member_details(self, request) -> tuple[str, accounts.AccountView, DetailsView | None]:
        """The session's token, its account, and the account's details from enrollment: None
        just after registration, before enrollment has opened the application (the home page
        then says it is being prepared)."""
        token = self._session_token(request)
        account = self.accounts.get_account(token)
        try:
            return token, account, self.enrollment.get_details(
                AccountRef(account_no=account.account_no))
        except DomainError as error:
            if error.code != "APPLICATION_NOT_FOUND":
                raise
            return token, account, None

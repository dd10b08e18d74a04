"""The 学龄人口信息采集表 (the guide's 四 打印信息采集表): its page, its download, and the public
page a school reaches by scanning a printout's QR code.

Mixed into GatewayService before DetailsRoutes, whose helpers it uses. The documents service
decides whether the family may print and renders the PDF; the gateway shows, streams and checks
nothing itself beyond the session and the length of a scanned token.
"""

from __future__ import annotations

from werkzeug.utils import redirect
from werkzeug.wrappers import Response

from common.errors import DomainError
from gateway import security
from gateway.details_pages import FORM_STEP, step_of, steps
from gateway.pages import beijing_time
from gateway.web import PerAddressLimit, base64_chunks, route, streamed_file
from services.documents.contract import MAX_TOKEN, FormFile, FormRef, TokenRef
from services.enrollment.contract import DetailsView

# The verification page is the QR code's: its URL carries the token, which no link may pass on.
VERIFY_HEADERS = {"Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex, nofollow"}


def pdf_response(form: FormFile, inline: bool = False) -> Response:
    """The form as its PDF, decoded and sent a chunk at a time. `inline`: for the page's
    preview, which only this site may frame."""
    response = streamed_file(base64_chunks(form.pdf_base64), "application/pdf", form.file_name,
                             inline, prefix="form")
    if inline:
        response.headers.update(security.FRAMED_BY_THIS_SITE)
    return response


def step_to_do(details: DetailsView) -> tuple[str, str]:
    """Where a family that may not print yet acts: its details until it submits them, then
    the check and review of what it submitted."""
    if details.state.details != "submitted":
        return "/details", details.form.title
    return "/status", "查看信息审核状态"


def token_ref(token: str) -> TokenRef | None:
    """The scanned token, or None when no printout can carry it (too long): never sent on."""
    return TokenRef(token=token) if 0 < len(token) <= MAX_TOKEN else None


class FormRoutes:
    """Mixed into GatewayService before DetailsRoutes: uses its `_member_details`, PageRoutes'
    `_member_page` and `_render`, and the service's `documents`."""

    verify_limit = PerAddressLimit("verify_ip", "VERIFY_CHECKS_PER_IP_PER_MINUTE", 60)

    @route("GET", "/form")
    def form_page(self, request):
        """学龄人口信息采集表查看页: the form to download and print, or what is missing."""
        token, account, details = self._member_details(request)
        if details is None:
            return redirect("/home", 303)
        status = self.documents.get_form_status(FormRef(account_no=account.account_no))
        return self._member_page(request, token, "form.html", account=account,
                                 form_status=status,
                                 todo=None if status.available else step_to_do(details),
                                 steps=steps(details.form),
                                 step=FORM_STEP if status.available else step_of(details))

    @route("GET", "/form.pdf", expensive="documents")
    def form_pdf(self, request):
        """下载学龄人口信息采集表 (`?inline=1`: the page's preview). Not available (any more):
        back to the page, which says what is missing."""
        account = self.accounts.get_account(self._session_token(request))
        try:
            form = self.documents.get_form(FormRef(account_no=account.account_no))
        except DomainError as error:
            if error.code != "FORM_NOT_AVAILABLE":
                raise
            return redirect("/form", 303)
        return pdf_response(form, inline=request.args.get("inline") == "1")

    @route("GET", "/verify/<token>")
    def verify_page(self, request, token):
        """What a school sees after scanning a printout: genuine, superseded or withdrawn, with
        the masked name, district, version and issue date; one page for every token that is
        not a printout's (forged, altered, unknown, too long), so guessing learns nothing."""
        check = refused = None
        try:
            self._count_attempt(request, self.verify_limit)
            ref = token_ref(token)
            if ref is None:
                raise DomainError("FORM_TOKEN_INVALID")
            check = self.documents.check_form(ref)
        except DomainError as error:
            if error.code not in ("FORM_TOKEN_INVALID", "RATE_LIMITED"):
                raise
            # the catalog's words, whatever the service said: every invalid token reads alike
            refused = DomainError(error.code, extra=error.extra)
        response = self._render(request, "verify.html", refused.http_status if refused else 200,
                                check=check, refused=refused,
                                issued_at=check and beijing_time(check.issued_at))
        response.headers.update(VERIFY_HEADERS)
        if refused and "retry_after_s" in refused.extra:
            response.headers["Retry-After"] = str(refused.extra["retry_after_s"])
        return response

"""The documents service wired once: its store, its token key and its clock around the rules,
for the service (service.py) and the tests. Nothing here imports nameko or eventlet: what only
the edge has, enrollment's client and the render workers, is handed to each call (`Edge`).

`get_form` answers the cached form when its version and data are unchanged, else renders it
(in a worker process) and keeps it; the QR code's token binds the version's first issue time,
which a render of the same version keeps.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from prometheus_client import Counter, Histogram

from common.errors import DomainError
from services.documents import render
from services.documents.rules import form as rules
from services.documents.rules import token as tokens
from services.documents.storage import FormStore, StoredForm, token_key
from services.enrollment.contract import AccountRef, EnrollmentRpc, FormData, FormDataRequest

log = logging.getLogger(__name__)

RENDERS = Counter("platform_documents_renders_total", "Forms rendered, by outcome (ok, error)",
                  ["outcome"])
RENDER_SECONDS = Histogram("platform_documents_render_seconds",
                           "Rendering one form, waiting for a worker included",
                           buckets=(.1, .25, .5, 1, 2, 5, 10, 30))
FORMS_SERVED = Counter("platform_documents_forms_served_total",
                       "Forms answered, by source (cache, rendered)", ["source"])
CHECKS = Counter("platform_documents_checks_total",
                 "Printouts checked, by status (genuine, superseded, withdrawn, invalid)",
                 ["status"])


@dataclass(frozen=True)
class Edge:
    """What a call needs from the edge: enrollment's typed client, and `render(job) -> PDF`
    in a worker process."""
    enrollment: EnrollmentRpc
    render: Callable[[dict], bytes]


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)  # the token holds whole seconds


class DocumentsApp:
    def __init__(self, forms: FormStore, token_key: bytes, public_base_url: str,
                 clock: Callable[[], datetime] = now_utc):
        self.forms = forms
        self.token_key = token_key
        self.public_base_url = public_base_url
        self.clock = clock
        self.template = render.template_digest()

    def ping(self) -> None:
        self.forms.ping()

    def get_form_status(self, edge: Edge, account_no: str) -> dict:
        standing = edge.enrollment.get_form_standing(AccountRef(account_no=account_no))
        if standing is None:
            raise DomainError("APPLICATION_NOT_FOUND")
        if not standing.may_print:
            return {"available": False, "missing": standing.missing}
        return {"available": True, "version": standing.version,
                "file_name": rules.file_name(account_no, standing.version)}

    def get_form(self, edge: Edge, account_no: str) -> dict:
        """FORM_NOT_AVAILABLE (with what is missing) until the family may print."""
        data = edge.enrollment.get_form_data(FormDataRequest(account_no=account_no,
                                                             purpose="print_form"))
        if not data.may_print:
            raise DomainError("FORM_NOT_AVAILABLE", f"暂不能打印学龄人口信息采集表：{data.missing}")
        digest = rules.data_digest(data, self.template)
        stored = self.forms.find(account_no)
        if stored is not None and stored.version == data.version and stored.digest == digest:
            FORMS_SERVED.labels("cache").inc()
            return self._answer(stored)
        # The version's first issue is kept: the tokens on its earlier printouts bind it.
        issued_at = stored.issued_at if stored is not None and stored.version == data.version \
            else self.clock()
        form = StoredForm(account_no, data.version, digest, issued_at,
                          self._render(edge, data, issued_at))
        self.forms.store(form)
        FORMS_SERVED.labels("rendered").inc()
        return self._answer(form)

    def prepare(self, edge: Edge, account_no: str) -> bool:
        """Renders the family's form ahead, once it may print (its check verified, its review
        approved), so that its download is a stored form; False if it may not print yet."""
        # the standing first: unlike the form's data, it is no audited read of the family's
        standing = edge.enrollment.get_form_standing(AccountRef(account_no=account_no))
        if standing is None or not standing.may_print:
            return False
        self.get_form(edge, account_no)
        return True

    def check_form(self, edge: Edge, token: str) -> dict:
        """FORM_TOKEN_INVALID, the same for a forged, altered or truncated token."""
        try:
            found = tokens.verify(self.token_key, token)
        except tokens.InvalidToken:
            CHECKS.labels("invalid").inc()
            raise DomainError("FORM_TOKEN_INVALID") from None
        standing = edge.enrollment.get_form_standing(AccountRef(account_no=found.account_no))
        answer = rules.check(found, standing)
        CHECKS.labels(answer["status"]).inc()
        return answer

    def account_cancelled(self, event_id: str, event_type: str, account_no: str) -> bool:
        return self.forms.forget_account(event_id, event_type, account_no)

    def token(self, account_no: str, version: int, issued_at: datetime) -> str:
        return tokens.sign(self.token_key, tokens.FormToken(account_no, version, issued_at))

    def _render(self, edge: Edge, data: FormData, issued_at: datetime) -> bytes:
        url = rules.verify_url(self.public_base_url,
                               self.token(data.account_no, data.version, issued_at))
        with RENDER_SECONDS.time():
            try:
                pdf = edge.render(rules.render_job(data, url, issued_at))
            except Exception:
                RENDERS.labels("error").inc()
                raise
        RENDERS.labels("ok").inc()
        return pdf

    @staticmethod
    def _answer(form: StoredForm) -> dict:
        return {"file_name": rules.file_name(form.account_no, form.version),
                "version": form.version, "issued_at": form.issued_at.isoformat(),
                "size": len(form.pdf), "pdf_base64": base64.b64encode(form.pdf).decode()}


def build(settings, pool) -> DocumentsApp:
    """The documents app on `pool`, logged in as documents' role."""
    return DocumentsApp(FormStore(pool, settings.master_keys), token_key(settings.master_keys),
                        settings.PUBLIC_BASE_URL)

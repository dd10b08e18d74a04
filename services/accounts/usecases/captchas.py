"""Image captchas: throttled per client address before the image is drawn, spent once."""

from __future__ import annotations

import base64
import io
import secrets
import uuid
from datetime import timedelta

from captcha.image import ImageCaptcha

from common import throttle
from common.client_address import rate_limit_subject
from common.errors import DomainError
from services.accounts import contract
from services.accounts.usecases.context import Context, Trail


class Captchas:
    def __init__(self, context: Context):
        self.context = context
        self.per_ip = throttle.Limit("captcha_ip", context.settings.CAPTCHAS_PER_IP_PER_MINUTE,
                                     60)

    def create(self, request: contract.CaptchaRequest | None = None) -> contract.Captcha:
        context, settings = self.context, self.context.settings
        req = request or contract.CaptchaRequest()
        with context.store.statements() as db:  # before the image: rendering is the cost
            context.throttle(db, context.edge.clock(),
                             (self.per_ip, rate_limit_subject(req.client_ip)))
        if settings.CAPTCHA_BACKEND == "fixed":
            answer = settings.CAPTCHA_FIXED_ANSWER
        else:
            answer = "".join(secrets.choice("23456789ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(4))
        captcha_id = str(uuid.uuid4())
        now = context.edge.clock()
        png = context.edge.render_captcha(answer)
        with context.store.transaction() as tx:
            tx.add_captcha(captcha_id, self._hash(captcha_id, answer),
                           now + timedelta(seconds=settings.CAPTCHA_TTL_S))
        return contract.Captcha(captcha_id=captcha_id,
                                image_png_base64=base64.b64encode(png).decode(),
                                expires_in_s=settings.CAPTCHA_TTL_S)

    def check(self, captcha_id: str, answer: str, trail: Trail) -> None:
        """Spends the captcha in its own transaction: a wrong answer cannot be retried."""
        stored = None
        if _is_uuid(captcha_id):
            with self.context.store.transaction() as tx:
                stored = tx.take_captcha(captcha_id, self.context.edge.clock())
        if stored is None or not secrets.compare_digest(stored, self._hash(captcha_id, answer)):
            self.context.audit_refusal("captcha_failed", trail)
            raise DomainError("CAPTCHA_INVALID", fields={"captcha_answer": "图片验证码错误或已"
                                                                           "过期，请换一张。"})

    def _hash(self, captcha_id: str, answer: str) -> bytes:
        return self.context.lookup("captcha", f"{captcha_id}|{answer.strip().upper()}")


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
        return True
    except ValueError:
        return False


def render_captcha_png(answer: str) -> bytes:
    """The image captcha (Pillow through the `captcha` package)."""
    buffer = io.BytesIO()
    ImageCaptcha(width=160, height=60).write(answer, buffer, format="png")
    return buffer.getvalue()

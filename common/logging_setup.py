"""One logging setup for every process: JSON lines on stderr, request id on every line.

A redaction step masks any field whose name says it holds a secret or personal data, so a
careless log call cannot leak a password, a code, a token or a full document number.
"""

from __future__ import annotations

import logging
import sys

import structlog

from common.masking import mask_id_number, mask_phone

_SECRET_KEYS = {"password", "password_confirm", "new_password", "code", "sms_code", "token",
                "session_token", "csrf_token", "captcha_answer", "authorization", "cookie"}
_MASKERS = {"id_number": mask_id_number, "document_number": mask_id_number, "phone": mask_phone}


def redact(_logger, _method, event_dict):
    for key in list(event_dict):
        if key in _SECRET_KEYS:
            event_dict[key] = "[redacted]"
        elif key in _MASKERS and isinstance(event_dict[key], str):
            event_dict[key] = _MASKERS[key](event_dict[key])
    return event_dict


def configure_logging(service: str, level: str = "INFO") -> None:
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact,
    ]
    structlog.configure(
        processors=shared + [structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.ExtraAdder(), *shared],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            lambda _l, _m, d: {"service": service, **d},
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("kombu", "amqp", "nameko", "urllib3", "psycopg.pool"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    # A refusal (DomainError) is an answer, not a fault: nameko would log each with a traceback.
    logging.getLogger("nameko.containers").setLevel(logging.ERROR)

"""Production refuses settings that would not really text anybody or that use published keys."""

from __future__ import annotations

import base64
import os

import pytest
from pydantic import ValidationError

from common.settings import DEV_KEYS
from services.notify.settings import NotifySettings

REAL_KEY = "1:" + base64.b64encode(os.urandom(32)).decode()


def production(**overrides):
    return NotifySettings(_env_file=None, PLATFORM_ENV="production", **overrides)


def test_production_accepts_an_http_provider_and_a_real_key():
    settings = production(MASTER_KEYS=REAL_KEY, SMS_BACKEND="http",
                          SMS_HTTP_URL="https://sms.example.invalid/send")
    assert settings.production


@pytest.mark.parametrize("overrides, problem", [
    ({"MASTER_KEYS": REAL_KEY}, "SMS_BACKEND=outbox"),
    ({"MASTER_KEYS": REAL_KEY, "SMS_BACKEND": "http"}, "SMS_HTTP_URL"),
    ({"SMS_BACKEND": "http", "SMS_HTTP_URL": "https://sms.example.invalid/send"},
     "MASTER_KEYS"),
    ({"MASTER_KEYS": f"{REAL_KEY},2:{DEV_KEYS['MASTER_KEYS'][2:]}", "SMS_BACKEND": "http",
      "SMS_HTTP_URL": "https://sms.example.invalid/send"}, "MASTER_KEYS holds"),
])
def test_production_refuses(overrides, problem):
    with pytest.raises(ValidationError, match=problem):
        production(**overrides)


def test_development_defaults_use_the_outbox_file_and_the_development_key():
    settings = NotifySettings(_env_file=None)
    assert settings.SMS_BACKEND == "outbox"
    assert settings.MASTER_KEYS == DEV_KEYS["MASTER_KEYS"]


def test_a_lease_margin_under_a_second_is_refused():
    assert NotifySettings(_env_file=None, SMS_LEASE_MARGIN_S=1).SMS_LEASE_MARGIN_S == 1
    with pytest.raises(ValidationError, match="SMS_LEASE_MARGIN_S"):
        NotifySettings(_env_file=None, SMS_LEASE_MARGIN_S=0.5)

"""The JSON API fuzzed by schemathesis (its CLI, in a process of its own) against a platform of
its own: every check of tests/e2e/schemathesis.toml, at least 100 examples per operation, then
stateful sequences along the document's links (captcha -> session -> account).

Two runs: a visitor's, with every operation; a signed-in member's, with its session cookie and
CSRF token, without sign-out (which would end that session for every later request). The
visitor's run follows the links from a new session too, but schemathesis sends the cookie it
generates for the `session` scheme rather than the one sign-in set, so only the member's run
reaches past 401 on the signed-in operations. About a minute in all on two cores."""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.family import Family

CONFIG = Path(__file__).with_name("schemathesis.toml")
PASSWORD = "Fuzz2027abc"


@pytest.fixture(scope="module")
def member(fuzz_stack):
    """A registered family, signed in: (its Family, its account number)."""
    family = Family(fuzz_stack)
    registered = family.register(password=PASSWORD, password_confirm=PASSWORD)
    assert registered.status_code == 201, registered.text
    return family, registered.json()["account_no"]


def config_for(stack, member, signed_in: bool) -> str:
    family, account_no = member
    text = CONFIG.read_text() + f"""
[dictionaries.captcha_answers]
values = ["{stack.env["CAPTCHA_FIXED_ANSWER"]}"]
[dictionaries.account_numbers]
values = ["{account_no}"]
[dictionaries.passwords]
values = ["{PASSWORD}"]
"""
    if signed_in:
        text += f"""
[auth.openapi.session]
api_key = "{family.http.cookies["sid"]}"
[auth.openapi.csrf]
api_key = "{family.csrf}"
"""
    return text


@pytest.mark.parametrize("signed_in", [False, True], ids=["visitor", "member"])
def test_the_api_survives_fuzzing_and_answers_as_documented(fuzz_stack, member, signed_in,
                                                            tmp_path):
    config = tmp_path / "schemathesis.toml"
    config.write_text(config_for(fuzz_stack, member, signed_in))
    command = [sys.executable, "-m", "schemathesis.cli", "--config-file", str(config),
               "--no-color", "run", fuzz_stack.url + "/api/v1/openapi.json",
               "--max-examples", "100", "--workers", "2", "--request-timeout", "30"]
    if signed_in:
        command += ["--exclude-operation-id", "logout"]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-3000:]

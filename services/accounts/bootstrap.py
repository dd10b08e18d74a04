"""The accounts service wired once: its keys, store, look-up hasher, password hasher and
captcha renderer around the use cases, one object per capability. The service (service.py),
the demo data (demo.py) and the tests all build their AccountsApp here; nothing here imports
nameko or eventlet.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from common.crypto import LookupHasher
from services.accounts.rules.passwords import make_hasher, verify_password
from services.accounts.storage import Keys, Store
from services.accounts.usecases.cancellation import Cancellations
from services.accounts.usecases.captchas import Captchas, render_captcha_png
from services.accounts.usecases.context import Context, Edge
from services.accounts.usecases.disputes import Disputes
from services.accounts.usecases.passwords import Passwords
from services.accounts.usecases.registration import Registrations
from services.accounts.usecases.sessions import Sessions
from services.accounts.usecases.sms_codes import SmsCodes


@dataclass(frozen=True)
class AccountsApp:
    """Each capability of the accounts service (usecases/), over one context; the audit
    chain's functions (usecases/audit.py) take `context.store`."""
    context: Context
    captchas: Captchas
    sms_codes: SmsCodes
    sessions: Sessions
    registrations: Registrations
    passwords: Passwords
    cancellations: Cancellations
    disputes: Disputes


def inline(fn, *args):
    """Runs slow work where it is called (a script, a test): no event loop to keep free."""
    return fn(*args)


def no_gauges(issued: int, ratio: float) -> None:
    """A script or a test keeps no SMS budget gauges."""


def build(settings, pool, publish: Callable | None = None, offload: Callable = inline,
          observe_sms_budget: Callable[[int, float], None] = no_gauges) -> AccountsApp:
    """The accounts use cases on `pool`, logged in as the accounts role.

    `publish` gets each committed transaction's outbox events (the service's relay; without
    it they wait in the outbox for a running relay's sweep). `offload(fn, *args)` runs the
    slow work, argon2 and captcha images (the service: in OS threads, off the event loop).
    `observe_sms_budget(codes this minute, share of the budget)` feeds the service's gauges.
    """
    hasher = make_hasher(settings.ARGON2_MEMORY_KIB, settings.ARGON2_TIME_COST,
                         settings.ARGON2_PARALLELISM)
    keys = Keys(settings.master_keys)
    context = Context(
        settings, Store(pool, keys, publish), LookupHasher(keys.lookup),
        Edge(hash_password=lambda password: offload(hasher.hash, password),
             verify_password=lambda stored, password: offload(
                 verify_password, hasher, stored, password),
             render_captcha=lambda answer: offload(render_captcha_png, answer),
             observe_sms_budget=observe_sms_budget))
    captchas = Captchas(context)
    sessions = Sessions(context, captchas)
    sms_codes = SmsCodes(context, captchas, sessions)
    return AccountsApp(context, captchas, sms_codes, sessions,
                       Registrations(context, sms_codes, sessions),
                       Passwords(context, sessions, sms_codes),
                       Cancellations(context, sessions, sms_codes), Disputes(context))

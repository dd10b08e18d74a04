"""Many clients from one machine, posed honestly: each connects from its own loopback address
(Linux routes all of 127.0.0.0/8 to the loopback interface), so the gateway counts the address
of the connection itself, as it does in production without a proxy."""

from __future__ import annotations

import random

import requests
from requests.adapters import HTTPAdapter

_ADDRESSES = 255 * 256 * 254  # 127.1-255.0-255.1-254: never 127.0.0.1, no .0 or .255


def loopback_address(n: int | None = None) -> str:
    """The n-th client address (a random one without n)."""
    n = random.randrange(_ADDRESSES) if n is None else n % _ADDRESSES
    return f"127.{n // (256 * 254) + 1}.{n // 254 % 256}.{n % 254 + 1}"


class SourceAddressAdapter(HTTPAdapter):
    """Opens every connection from `source_ip`."""

    def __init__(self, source_ip: str, **kwargs):
        self.source_ip = source_ip  # read by init_poolmanager, which __init__ calls
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, source_address=(self.source_ip, 0), **kwargs)


def client_session(ip: str | None = None) -> requests.Session:
    """A requests session connecting from `ip` (a random loopback address without one)."""
    session = requests.Session()
    session.mount("http://", SourceAddressAdapter(ip or loopback_address()))
    return session

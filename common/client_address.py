"""Which client a per-address limit counts: one subject per address, IPv6 per /64.

An IPv6 subscriber usually holds a whole /64 and can pick any address in it, so counting
single IPv6 addresses would let one client have 2^64 budgets.
"""

from __future__ import annotations

import ipaddress

MAX_SUBJECT = 64


def rate_limit_subject(address: str) -> str:
    """IPv4 as is; IPv6 as its /64 network (IPv4-mapped IPv6 as the IPv4 address); anything
    else as given, truncated."""
    text = (address or "").strip()
    try:
        ip = ipaddress.ip_address(text.split("%", 1)[0])  # a zone id names no other client
    except ValueError:
        return text[:MAX_SUBJECT]
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(ip) >> 64 << 64, 64)))
    return str(ip)

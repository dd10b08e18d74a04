"""Keys per purpose, derived with HKDF-SHA256 from the master keys (`MASTER_KEYS`).

`MASTER_KEYS` lists `id:base64` entries (32 bytes each), e.g. `2:<new>,1:<old>`. Data is sealed
under the keys derived from the highest id; the others stay only to read what was sealed before
a rotation. Look-up hashes, the audit chain's key and anchors use the lowest id: they cannot be
recomputed from stored data, so that key stays in the list for the life of the data.

    python -m common.keys rotate SERVICE   # re-seals its rows under the newest key
    python -m common.keys generate         # a new random master key (base64)

SERVICE: a process whose common/registry.py entry names its `rotate_keys`.
"""

from __future__ import annotations

import base64
import os
import sys

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from common import registry
from common.crypto import FieldCipher, decode_key

_INFO = "enrollment-platform/{purpose}"


class MasterKeys:
    def __init__(self, keys: dict[int, bytes]):
        if not keys:
            raise ValueError("MASTER_KEYS holds no key")
        self._keys = keys

    @classmethod
    def parse(cls, value: str) -> MasterKeys:
        keys = {}
        for entry in filter(None, (part.strip() for part in value.split(","))):
            key_id, sep, encoded = entry.partition(":")
            if not sep or not key_id.isdigit() or not 0 < int(key_id) < 65536:
                raise ValueError("MASTER_KEYS entries are id:base64 with an id from 1 to 65535")
            if int(key_id) in keys:
                raise ValueError(f"MASTER_KEYS names key {key_id} twice")
            keys[int(key_id)] = decode_key(encoded, f"MASTER_KEYS key {key_id}")
        return cls(keys)

    def derive(self, key_id: int, purpose: str) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                    info=_INFO.format(purpose=purpose).encode()).derive(self._keys[key_id])

    def cipher(self, purpose: str) -> FieldCipher:
        """Seals under the newest master key's derivation, opens under any of them."""
        return FieldCipher({key_id: self.derive(key_id, purpose) for key_id in self._keys})

    def stable(self, purpose: str) -> bytes:
        """A key that must never change (keyed hashes stored for look-ups, the audit chain)."""
        return self.derive(min(self._keys), purpose)

    @property
    def current_id(self) -> int:
        return max(self._keys)


def main(argv: list[str]) -> int:
    if argv[1:] == ["generate"]:
        print(base64.b64encode(os.urandom(32)).decode())
        return 0
    process = registry.PROCESSES.get(argv[2]) if len(argv) == 3 else None
    if process is None or argv[1] != "rotate" or process.rotate_keys is None:
        print(__doc__, file=sys.stderr)
        return 2
    settings = registry.load(process.settings)()
    count = registry.load(process.rotate_keys)(settings.DATABASE_URL, settings.master_keys)
    print(f"{process.name}: {count} rows re-sealed under key {settings.master_keys.current_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

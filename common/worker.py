"""A worker process of common/edge/processes.py: `python -m common.worker module:function`.

Reads requests from its standard input and writes each answer to its standard output, one
frame each (a 4-byte big-endian length, then a pickle): `(True, answer)` or `(False, "what
went wrong")`. Runs under Linux's SCHED_IDLE policy, so that the services, RabbitMQ and
PostgreSQL on the same cores preempt it at once. Standard library only; no eventlet.
"""

from __future__ import annotations

import os
import pickle
import struct
import sys

from common.registry import load

HEADER = struct.Struct(">I")


def read_frame(stream) -> bytes | None:
    """A frame's body; None at the end of the stream."""
    header = _read_exactly(stream, HEADER.size)
    return None if header is None else _read_exactly(stream, HEADER.unpack(header)[0])


def _read_exactly(stream, size: int) -> bytes | None:
    """`size` bytes, however many reads they take (a green pipe answers what has come)."""
    parts, missing = [], size
    while missing:
        part = stream.read(missing)
        if not part:
            return None
        parts.append(part)
        missing -= len(part)
    return b"".join(parts)


def write_frame(stream, body: bytes) -> None:
    stream.write(HEADER.pack(len(body)) + body)
    stream.flush()


def main(argv: list[str]) -> int:
    # Answers get a descriptor of their own: whatever a library prints goes to stderr.
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    function = load(argv[1])
    prepare = getattr(sys.modules[function.__module__], "prepare", None)
    if prepare is not None:  # fonts and templates loaded before the first request waits
        prepare()
    requests = sys.stdin.buffer
    while (body := read_frame(requests)) is not None:
        try:
            answer = (True, function(pickle.loads(body)))  # noqa: S301  (our own parent)
        except Exception as exc:  # the parent raises it; this worker goes on
            answer = (False, f"{type(exc).__name__}: {exc}")
        write_frame(answers, pickle.dumps(answer))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

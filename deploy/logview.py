"""Turns one process's JSON log lines into readable, prefixed terminal lines (used by run.sh).

    {"service": "accounts", "level": "info", "event": "starting", "metrics_port": 9101, ...}
becomes
    accounts | 14:30:01 INFO  starting metrics_port=9101

Lines that are not JSON (tracebacks printed before logging is set up, warnings) pass through
with the prefix, in the process's colour (common/registry.py). Standard library only; never
raises on bad input.
"""

from __future__ import annotations

import json
import os
import sys

from common.registry import PROCESSES

WIDTH = max(map(len, PROCESSES))
LEVEL_COLORS = {"debug": "2", "info": "32", "warning": "33", "error": "31", "critical": "1;31",
                "exception": "31"}
SKIP = {"service", "level", "event", "timestamp"}


def paint(code: str, text: str, enabled: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if enabled and code else text


def render(line: str, color: bool) -> list[str]:
    try:
        record = json.loads(line)
    except ValueError:
        return [line]
    if not isinstance(record, dict) or "event" not in record:
        return [line]
    stamp = str(record.get("timestamp", ""))
    clock = stamp[11:19] if len(stamp) >= 19 else stamp
    level = str(record.get("level", "")).lower()
    extras = []
    trailer: list[str] = []
    for key, value in record.items():
        if key in SKIP:
            continue
        if key == "exception" and isinstance(value, str):
            trailer = ["    " + part for part in value.rstrip("\n").splitlines()]
            continue
        if not isinstance(value, str):
            value = json.dumps(value, ensure_ascii=False)
        elif not value or any(c.isspace() for c in value):
            value = json.dumps(value, ensure_ascii=False)
        extras.append(f"{key}={value}")
    head = " ".join(part for part in (
        clock,
        paint(LEVEL_COLORS.get(level, ""), f"{level.upper():<5}", color),
        str(record["event"]),
        " ".join(extras),
    ) if part)
    return [head, *trailer]


def main() -> int:
    name = sys.argv[1] if len(sys.argv) > 1 else "?"
    color = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    prefix = paint(PROCESSES[name].color if name in PROCESSES else "1", f"{name:<{WIDTH}} |",
                   color) + " "
    sys.stdin.reconfigure(encoding="utf-8", errors="replace")
    sys.stdout.reconfigure(encoding="utf-8", errors="replace", line_buffering=True)
    for raw in sys.stdin:
        line = raw.rstrip("\n")
        try:
            out = render(line, color)
        except Exception:  # a viewer must never lose a line
            out = [line]
        try:
            for part in out:
                sys.stdout.write(prefix + part + "\n")
        except (BrokenPipeError, OSError):
            return 0  # terminal gone: run.sh's tee keeps writing the log file
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env bash
# `make test`: every test, in two pytest processes (see conftest.py): first everything that
# runs under eventlet, then the real-browser tests, which cannot. Extra arguments go to both
# (e.g. `make test PYTEST_ARGS="-k captcha"`). A run that collects no test at all fails.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1

pytest() { .venv/bin/pytest "$@"; }

pytest "$@"
green=$?
PLATFORM_TESTS_EVENTLET=0 pytest -m browser tests/browser "$@"
browser=$?

# 5: "no tests collected". Fine for one half of a filtered run, not for both, nor unfiltered.
if [ $# -eq 0 ] && { [ $green -eq 5 ] || [ $browser -eq 5 ]; }; then
    echo "make test: a test run collected no tests" >&2; exit 1
fi
if [ $green -eq 5 ] && [ $browser -eq 5 ]; then
    echo "make test: no test matched" >&2; exit 1
fi
for rc in $green $browser; do
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 5 ]; then exit "$rc"; fi
done
exit 0

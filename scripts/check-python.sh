#!/bin/sh
# Make sure the Python that `make` uses is 3.11 or newer and can create virtual environments.
PY=${1:-python3}
if ! command -v "$PY" >/dev/null 2>&1; then
    echo "tinygrad_edu needs Python 3.11 or newer, but '$PY' was not found." >&2
    echo "Install it (e.g. 'sudo apt-get install python3'), or run: make PYTHON=/path/to/python3.11" >&2
    exit 1
fi
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "tinygrad_edu needs Python 3.11 or newer; '$PY' is $("$PY" --version 2>&1)." >&2
    echo "Run: make PYTHON=/path/to/python3.11 (or newer)" >&2
    exit 1
fi
if ! "$PY" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    version=$("$PY" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        echo "Python's venv module is missing: installing the Debian package python$version-venv"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "python$version-venv" >/dev/null
        "$PY" -c 'import venv, ensurepip' >/dev/null 2>&1 && exit 0
    fi
    echo "Python's venv module is missing: install it, e.g. 'sudo apt-get install python$version-venv'." >&2
    exit 1
fi

#!/usr/bin/env bash
# A Python virtual environment under target/ with the PyPI packages the
# suite's QUIC file needs (t/021-quic-real-clients.t: aioquic's HTTP/3
# server and client), never in the system Python. Creates it once (again
# when the pinned list below changes) and prints its python:
#
#   scripts/python-venv.sh        # -> target/python-venv/cpython-311-x86_64/bin/python
#
# Needs Debian's python3 and python3-venv (scripts/install-deps.sh test) and
# PyPI. SIFT_SYSTEM_PYTHON picks another base interpreter (default
# /usr/bin/python3). pip's output goes to stderr; only the path to stdout.
# Exit status 3: pip could not install (PyPI unreachable, say); 1: anything
# else.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
base=${SIFT_SYSTEM_PYTHON:-/usr/bin/python3}

# Tested together (aioquic 1.7.2 and what it pulled in, 2026-12).
requirements='aioquic==1.7.2
attrs==26.1.0
certifi==2026.10.19.post1
cffi==2.1.1
cryptography==50.0.2
pycparser==3.12
pylsqpack==1.0.0
pyOpenSSL==26.4.0
service-identity==26.1.0
typing_extensions==4.16.0'

[ -x "$base" ] || { echo "python-venv: no $base (scripts/install-deps.sh test installs python3-venv)" >&2; exit 1; }
tag=$("$base" -c 'import platform, sys; print(sys.implementation.cache_tag + "-" + platform.machine())')
venv=$top/target/python-venv/$tag
mkdir -p "$top/target/python-venv"

# One creator at a time (two prove runs may start together).
exec 9> "$top/target/python-venv/.lock"
flock 9

if [ -f "$venv/.sift-requirements" ] && [ "$(cat "$venv/.sift-requirements")" = "$requirements" ] \
    && "$venv/bin/python" -c 'import aioquic' 2> /dev/null; then
    echo "$venv/bin/python"
    exit 0
fi

rm -rf "$venv"
"$base" -m venv "$venv" >&2 || { echo "python-venv: $base -m venv failed (python3-venv installed?)" >&2; exit 1; }
printf '%s\n' "$requirements" > "$venv/requirements.txt"
"$venv/bin/pip" install --disable-pip-version-check --no-input -q --retries 2 --timeout 20 -r "$venv/requirements.txt" >&2 \
    || { echo "python-venv: pip install into $venv failed (PyPI reachable?)" >&2; rm -rf "$venv"; exit 3; }
printf '%s' "$requirements" > "$venv/.sift-requirements"
echo "$venv/bin/python"

#!/usr/bin/env bash
# The install a newcomer makes: the built wheel in a fresh venv, no lock file, no dev
# extras (`pip install aftersales-*.whl`), then --help, migrate, demo and a served
# /api/v1/health. A runtime import that only the lock or the dev extras bring in fails
# here. Everything lives in one temp dir (database, data dir, venv), removed at the end;
# pip's cache makes the install quick after the first run.
set -euo pipefail

PYTHON=${PYTHON:-python3}
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/aftersales-smoke.XXXXXX")
server=""
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

step() { printf 'wheel-smoke: %s\n' "$*"; }

step "building the wheel"
"$PYTHON" -m pip wheel --quiet --no-deps --wheel-dir "$work/dist" "$root" >"$work/build.log" 2>&1 \
  || { cat "$work/build.log"; exit 1; }
step "installing $(basename "$work"/dist/*.whl) into a fresh venv (no lock, no extras)"
"$PYTHON" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet "$work"/dist/*.whl >"$work/install.log" 2>&1 \
  || { cat "$work/install.log"; exit 1; }

cd "$work"  # anything relative (var/) lands in the temp dir
export AFTERSALES_DATABASE_URL="sqlite:///$work/smoke.db" AFTERSALES_DATA_DIR="$work/data"
bin="$work/venv/bin"

step "aftersales --help"
"$bin/aftersales" --help >/dev/null
step "aftersales migrate"
"$bin/aftersales" migrate
step "aftersales demo"
"$bin/aftersales" demo --tokens-file "$work/tokens.json" >"$work/demo.log" || { cat "$work/demo.log"; exit 1; }

port=$("$bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
step "aftersales serve on 127.0.0.1:$port"
"$bin/aftersales" serve --host 127.0.0.1 --port "$port" >"$work/serve.log" 2>&1 &
server=$!
"$bin/python" - "$port" "$server" <<'PY' || { cat "$work/serve.log"; exit 1; }
import json, os, sys, time, urllib.request

port, pid = sys.argv[1], int(sys.argv[2])
deadline = time.monotonic() + 30
while True:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=2) as res:
            body = json.load(res)
            assert res.status == 200, res.status
            print(f"wheel-smoke: /api/v1/health -> {res.status} {body}")
            break
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            sys.exit("wheel-smoke: the server exited before answering")
        if time.monotonic() > deadline:
            sys.exit("wheel-smoke: no answer from /api/v1/health within 30 s")
        time.sleep(0.2)
PY
step "ok"

"""deploy/ is the production shape (deploy/README.md): its files are checked as the tools
that run them check them, and the nginx config serves two real API processes.

- The systemd units name `aftersales` subcommands and flags its `--help` lists, and pass
  `systemd-analyze verify` where systemd is installed (paths rewritten to this checkout).
- The env example sets only variables the code reads, and its upload cap matches nginx's
  client_max_body_size.
- nginx.conf passes `nginx -t` and, on free ports with a throwaway certificate, proxies to
  two `aftersales serve` processes on PostgreSQL: health, the app's own 413 JSON for a body
  over its cap, nginx's 413 beyond client_max_body_size, HTTP redirected to HTTPS.
- nginx, not the app, cuts off slow clients (docs/decisions.md "Client timeouts"): the
  config sets the header, body, send and keep-alive timeouts, and a connection that sends
  nothing or stalls half-way through its request head is closed by it (the header timeout
  shortened for the test) while the API processes keep answering.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from aftersales.entrypoints.bootstrap import bootstrap
from conftest import migrated_engine
from servers import closed_within, free_port, serving

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
NGINX_CONF = DEPLOY / "nginx" / "aftersales.conf"
ENV_EXAMPLE = DEPLOY / "aftersales.env.example"
CLI = Path(sys.executable).parent / "aftersales"
INSTALLED = "/opt/aftersales/venv/bin/aftersales"


def _cli() -> list[str]:
    return [str(CLI)] if CLI.exists() else [sys.executable, "-m", "aftersales.entrypoints.cli"]


def _exec_starts(unit: Path) -> list[list[str]]:
    return [shlex.split(line.split("=", 1)[1]) for line in unit.read_text().splitlines()
            if line.startswith("ExecStart=")]


def test_the_units_run_aftersales_subcommands_with_flags_its_help_lists() -> None:
    assert {u.name for u in UNITS} >= {"aftersales-api@.service", "aftersales-worker@.service",
                                       "aftersales-migrate.service"}
    for unit in UNITS:
        starts = _exec_starts(unit)
        assert len(starts) == 1, unit.name
        (argv,) = starts
        assert argv[0] == INSTALLED, (unit.name, argv)
        helped = subprocess.run([*_cli(), argv[1], "--help"], capture_output=True, text=True,
                                timeout=60, env={**os.environ, "COLUMNS": "200"})
        assert helped.returncode == 0, (unit.name, helped.stderr)
        for flag in (a.split("=", 1)[0] for a in argv[2:] if a.startswith("--")):
            assert re.search(rf"(^|\s){re.escape(flag)}\b", helped.stdout), (unit.name, flag)
        assert "EnvironmentFile=/etc/aftersales/aftersales.env" in unit.read_text()


def test_the_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        message = "systemd-analyze is not installed (.ci/run installs Debian's systemd)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " (CI=true: never skipped)")
        pytest.skip(message + "; the parser check above still ran")
    names = []
    for unit in UNITS:
        text = unit.read_text().replace(INSTALLED, str(CLI)).replace(
            "/etc/aftersales/aftersales.env", str(ENV_EXAMPLE))
        name = unit.name.replace("@.", "@8001.")  # a template is verified as an instance
        (tmp_path / name).write_text(text)
        names.append(f"./{name}")
    done = subprocess.run([analyze, "verify", "--man=no", *names], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "Unknown" not in done.stderr, done.stderr


def _env_example() -> dict[str, str]:
    pairs = [line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    return {k.strip(): v.strip() for k, v in pairs}


def test_the_env_example_sets_what_the_code_reads_and_the_upload_cap_nginx_allows() -> None:
    source = "\n".join(p.read_text() for p in (ROOT / "src").rglob("*.py"))
    env = _env_example()
    assert "AFTERSALES_DATABASE_URL" in env and env["AFTERSALES_DATABASE_URL"].startswith(
        "postgresql+psycopg://")
    for name in env:
        assert f'"{name}"' in source, f"{name}: no code reads it"
    cap = int(env["AFTERSALES_MAX_UPLOAD_MB"]) * 1024 * 1024 + 64 * 1024  # (limits.py)
    found = re.search(r"client_max_body_size\s+(\d+)m;", NGINX_CONF.read_text())
    assert found, "client_max_body_size missing"
    allowed = int(found.group(1)) * 1024 * 1024
    assert cap <= allowed < cap + 1024 * 1024, (cap, allowed)


def _nginx() -> str:
    found = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)
    if found is None:
        message = "nginx is not installed (.ci/run installs Debian's nginx-light)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " (CI=true: never skipped)")
        pytest.skip(message)
    return found


def _config(tmp: Path, api_ports: list[int], http: int, https: int,
            header_timeout: str | None = None) -> Path:
    """The shipped config on free ports, its logs, temp files and certificate in `tmp`
    (and, when given, a shorter client_header_timeout, so a test need not wait 15 s)."""
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-keyout", str(tmp / "privkey.pem"),
                    "-out", str(tmp / "fullchain.pem")], check=True, capture_output=True,
                   timeout=60)
    text = NGINX_CONF.read_text()
    servers = re.findall(r"^\s*server 127\.0\.0\.1:\d+ .*;$", text, re.M)
    assert len(servers) >= 2, "the upstream lists at least two API processes"
    block = "\n".join(f"        server 127.0.0.1:{p} max_fails=3 fail_timeout=10s;"
                      for p in api_ports)
    text = text.replace("\n".join(servers), block)
    text = text.replace("listen 80;", f"listen 127.0.0.1:{http};")
    text = text.replace("listen 443 ssl", f"listen 127.0.0.1:{https} ssl")
    text = text.replace("/etc/aftersales/tls/", f"{tmp}/")
    text = text.replace("/var/log/nginx/", f"{tmp}/")
    if header_timeout is not None:
        text, n = re.subn(r"client_header_timeout \S+;", f"client_header_timeout {header_timeout};",
                          text)
        assert n == 1, "client_header_timeout missing"
    if os.geteuid() != 0:
        text = text.replace("user www-data;", "")
    for temp in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        text = text.replace("http {", f"http {{\n    {temp}_temp_path {tmp}/{temp};", 1)
    conf = tmp / "nginx.conf"
    conf.write_text(text)
    return conf


def _globals(tmp: Path, foreground: bool = False) -> list[str]:
    extra = "daemon off; " if foreground else ""
    return ["-p", str(tmp), "-g", f"{extra}pid {tmp}/nginx.pid; error_log {tmp}/error.log;"]


def test_the_nginx_config_passes_nginx_t(tmp_path: Path) -> None:
    nginx = _nginx()
    conf = _config(tmp_path, [free_port(), free_port()], free_port(), free_port())
    done = subprocess.run([nginx, "-t", "-c", str(conf), *_globals(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "least_conn;" in conf.read_text()


@pytest.fixture
def api_processes(tmp_path: Path) -> Iterator[list[int]]:
    """Two `aftersales serve` processes on one migrated PostgreSQL database."""
    from conftest import postgres_database

    with postgres_database() as url, migrated_engine(url) as engine:
        bootstrap(engine=engine)
        env = {"AFTERSALES_DATABASE_URL": url, "AFTERSALES_DATA_DIR": str(tmp_path / "data")}
        with serving(lambda port: [*_cli(), "serve", "--port", str(port)], env) as one, \
                serving(lambda port: [*_cli(), "serve", "--port", str(port)], env) as two:
            yield [int(one.rsplit(":", 1)[1]), int(two.rsplit(":", 1)[1])]


@contextmanager
def _front(tmp: Path, api_ports: list[int], header_timeout: str | None = None
           ) -> Iterator[tuple[int, int]]:
    """nginx in the foreground with the shipped config, once it answers: (http, https)."""
    nginx = _nginx()
    http, https = free_port(), free_port()
    conf = _config(tmp, api_ports, http, https, header_timeout)
    proc = subprocess.Popen([nginx, "-c", str(conf), *_globals(tmp, foreground=True)])
    try:
        with httpx.Client(base_url=f"https://127.0.0.1:{https}", verify=False, timeout=10) as client:
            deadline = time.monotonic() + 20
            while True:
                try:
                    if client.get("/api/v1/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert proc.poll() is None and time.monotonic() < deadline, \
                    (tmp / "error.log").read_text(errors="replace")[-2000:]
                time.sleep(0.1)
        yield http, https
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.postgres
def test_nginx_serves_two_api_processes_with_the_caps_and_the_redirect(
        tmp_path: Path, api_processes: list[int]) -> None:
    with _front(tmp_path, api_processes) as (http, https), \
            httpx.Client(base_url=f"https://127.0.0.1:{https}", verify=False, timeout=10) as client:
        for _ in range(6):  # both processes behind the one upstream answer
            assert client.get("/api/v1/health").status_code == 200
        big_json = b'{"x": "' + b"a" * (2 * 1024 * 1024) + b'"}'  # over the app's 1 MiB
        refused = client.post("/api/v1/orders", content=big_json,
                              headers={"Content-Type": "application/json"})
        assert refused.status_code == 413
        assert "code" in refused.json()["error"], refused.text  # the app's own answer
        huge = client.post("/api/v1/orders", content=b"a" * (22 * 1024 * 1024),
                           headers={"Content-Type": "application/json"})
        assert huge.status_code == 413 and "nginx" in huge.text  # refused at the door
        moved = httpx.get(f"http://127.0.0.1:{http}/api/v1/health", timeout=10)
        assert moved.status_code == 301 and moved.headers["location"].startswith("https://")


def test_the_nginx_config_times_out_slow_clients() -> None:
    text = NGINX_CONF.read_text()
    for directive in ("client_header_timeout", "client_body_timeout", "send_timeout",
                      "keepalive_timeout"):
        found = re.search(rf"^\s*{directive}\s+(\d+)s;", text, re.M)
        assert found, f"{directive} missing"
        assert 0 < int(found.group(1)) <= 120, (directive, found.group(1))


HEADER_TIMEOUT = 1.0


def _tls(port: int) -> ssl.SSLSocket:
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    return context.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10))


@pytest.mark.postgres
def test_nginx_closes_half_open_and_slowloris_connections(
        tmp_path: Path, api_processes: list[int]) -> None:
    with _front(tmp_path, api_processes, f"{HEADER_TIMEOUT:g}s") as (_, https):
        # connects and never says anything (not even the TLS handshake)
        with socket.create_connection(("127.0.0.1", https), timeout=10) as silent:
            assert closed_within(silent, 10 * HEADER_TIMEOUT) >= HEADER_TIMEOUT * 0.5
        # half a request head, then a trickle of header bytes: the time is for the whole head
        with _tls(https) as slow:
            slow.sendall(b"GET /api/v1/health/live HTTP/1.1\r\nHost: t\r\n")
            time.sleep(HEADER_TIMEOUT / 2)
            slow.sendall(b"X-Slow: 1\r\n")
            time.sleep(HEADER_TIMEOUT / 2)
            slow.sendall(b"X-Slower: 1\r\n")
            closed_within(slow, 10 * HEADER_TIMEOUT)
        # a whole request is answered as usual, and the API processes were never held
        with _tls(https) as prompt:
            prompt.sendall(b"GET /api/v1/health/live HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := prompt.recv(4096):
                data += chunk
            assert data.startswith(b"HTTP/1.1 200"), data[:200]

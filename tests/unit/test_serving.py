"""What `serve` hands uvicorn: the trusted proxies as configured (checked), and a log
filter that leaves no token of a query string in a record."""

from __future__ import annotations

import logging

import pytest

from aftersales.entrypoints.api.serving import RedactTokens, redact, uvicorn_options
from aftersales.entrypoints.api.settings import ApiSettings


@pytest.mark.parametrize(("line", "want"), [
    ("GET /portal/login?token=as_abc HTTP/1.1", "GET /portal/login?token=[redacted] HTTP/1.1"),
    ("/x?a=1&Token=as_abc&b=2", "/x?a=1&Token=[redacted]&b=2"),
    ("/x?access_token=zz", "/x?access_token=[redacted]"),
    ("/x?csrf_token_name=1&notoken=2", "/x?csrf_token_name=1&notoken=2"),
    ("/cases?state=requested", "/cases?state=requested"),
])
def test_token_values_are_redacted_and_nothing_else(line: str, want: str) -> None:
    assert redact(line) == want


def test_the_filter_redacts_the_arguments_of_an_access_record() -> None:
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1,
                               '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5", "GET", "/portal/login?token=as_secret", "1.1", 200),
                               None)
    assert RedactTokens().filter(record)
    assert "as_secret" not in record.getMessage() and "[redacted]" in record.getMessage()


def test_trusted_proxies_are_checked_and_none_means_no_forwarded_headers(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AFTERSALES_TRUSTED_PROXIES", raising=False)
    options = uvicorn_options(ApiSettings.from_env())
    assert options["proxy_headers"] is False
    monkeypatch.setenv("AFTERSALES_TRUSTED_PROXIES", "10.0.0.1, 192.168.0.0/16")
    options = uvicorn_options(ApiSettings.from_env())
    assert options["proxy_headers"] is True
    assert options["forwarded_allow_ips"] == ["10.0.0.1/32", "192.168.0.0/16"]
    monkeypatch.setenv("AFTERSALES_TRUSTED_PROXIES", "10.0.0.1,proxy.local")
    with pytest.raises(ValueError, match=r"proxy\.local"):
        ApiSettings.from_env()

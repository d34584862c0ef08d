"""Email through SMTP (standard library): AFTERSALES_SMTP_HOST / _PORT / _FROM."""

from __future__ import annotations

import os
import smtplib
from email.message import EmailMessage


class SmtpMailer:
    def __init__(self, host: str | None = None, port: int | None = None,
                 sender: str | None = None, timeout: float = 10.0) -> None:
        self.host = host or os.environ.get("AFTERSALES_SMTP_HOST", "127.0.0.1")
        self.port = port or int(os.environ.get("AFTERSALES_SMTP_PORT", "25"))
        self.sender = sender or os.environ.get("AFTERSALES_SMTP_FROM", "aftersales@localhost")
        self.timeout = timeout

    def send(self, recipient: str, subject: str, body: str) -> None:
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = self.sender, recipient, subject
        msg.set_content(body)
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            smtp.send_message(msg)


def configured_mailer() -> SmtpMailer | None:
    """A mailer only when SMTP is configured: an unconfigured desk queues, never errors."""
    return SmtpMailer() if os.environ.get("AFTERSALES_SMTP_HOST") else None

"""Live checks 75x: the default mailer's SMTP server answers.

The probe reads the default mailer (Django >= 6.1: ``MAILERS["default"]``; before: the
``EMAIL_*`` settings, never read on 6.1 where they are deprecated) and, when its backend is
Django's SMTP backend or a subclass, connects, says EHLO, starts TLS when the mailer does
(``use_tls``; ``use_ssl`` connects over TLS from the start), says EHLO again and QUIT. It never
logs in and never sends mail. Other backends (console, locmem, file, API-based services), and
Django 6.1 projects without ``MAILERS``, are not probed (no outcome).
"""

from __future__ import annotations

import functools
import smtplib
import ssl
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage

from django_prodkit.checks.inspect import backend_is
from django_prodkit.checks.registry import Check, define
from django_prodkit.probes.base import Probe
from django_prodkit.redact import describe_error, redact_text
from django_prodkit.settings.email import HAS_MAILERS, IMPLICIT_TLS_PORT, SMTP_BACKEND

E750 = Check(
    id="prodkit.E750",
    title="the SMTP server cannot be reached",
    msg="The default mailer's SMTP server {host}:{port} failed at {step}: {error}.",
    hint=(
        "Check host, port and TLS mode of EMAIL_URL (email_from_env(): submission:// is "
        "STARTTLS on 587, smtps:// is TLS on 465) and that outbound SMTP is allowed: many "
        "clouds, Azure among them, block outbound port 25; use 587 with a relay such as "
        "SendGrid or Azure Communication Services."
    ),
    why=(
        "Password resets, sign-up confirmations and the error mails to ADMINS fail. Sent with "
        "fail_silently they vanish without a trace; otherwise the request that sends them "
        "fails with a 500."
    ),
    live=True,
)
define(E750)

# RFC 6409 message submission (STARTTLS) and plain SMTP: the ports a mailer without one uses.
SUBMISSION_PORT = 587
SMTP_PORT = 25


@dataclass(frozen=True)
class SMTPServer:
    """Where and how the default mailer talks SMTP (no credentials: the probe never logs in)."""

    host: str
    port: int
    use_tls: bool
    use_ssl: bool
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None


def probes(timeout: float) -> list[Probe]:
    """The e-mail probe, when the default mailer sends over SMTP."""
    server = smtp_server()
    if server is None:
        return []
    return [
        Probe(
            name="email:default",
            ids=(E750.id,),
            run=functools.partial(probe_smtp, server, timeout),
            failed=functools.partial(_failed, server, "connect and EHLO"),
        )
    ]


def smtp_server() -> SMTPServer | None:
    """Return the default mailer's SMTP server, or None when it does not send over SMTP."""
    if HAS_MAILERS:
        mailers: dict[str, Any] = getattr(settings, "MAILERS", None) or {}
        mailer = mailers.get("default")
        if mailer is None or not backend_is(mailer.get("BACKEND", SMTP_BACKEND), SMTP_BACKEND):
            return None
        options: dict[str, Any] = dict(mailer.get("OPTIONS") or {})
    else:
        if not backend_is(getattr(settings, "EMAIL_BACKEND", SMTP_BACKEND), SMTP_BACKEND):
            return None
        options = {
            "host": getattr(settings, "EMAIL_HOST", "localhost"),
            "port": getattr(settings, "EMAIL_PORT", SMTP_PORT),
            "use_tls": getattr(settings, "EMAIL_USE_TLS", False),
            "use_ssl": getattr(settings, "EMAIL_USE_SSL", False),
            "ssl_certfile": getattr(settings, "EMAIL_SSL_CERTFILE", None),
            "ssl_keyfile": getattr(settings, "EMAIL_SSL_KEYFILE", None),
        }
    use_ssl = bool(options.get("use_ssl"))
    use_tls = bool(options.get("use_tls"))
    default_port = IMPLICIT_TLS_PORT if use_ssl else SUBMISSION_PORT if use_tls else SMTP_PORT
    return SMTPServer(
        host=str(options.get("host") or "localhost"),
        port=int(options.get("port") or default_port),
        use_tls=use_tls,
        use_ssl=use_ssl,
        ssl_certfile=options.get("ssl_certfile") or None,
        ssl_keyfile=options.get("ssl_keyfile") or None,
    )


def _ssl_context(server: SMTPServer) -> ssl.SSLContext:
    # Exactly as Django's SMTP backend builds it, so that the probe fails where sending would.
    if server.ssl_certfile or server.ssl_keyfile:
        context = ssl.SSLContext(protocol=ssl.PROTOCOL_TLS_CLIENT)
        context.load_cert_chain(server.ssl_certfile or "", server.ssl_keyfile)
        return context
    return ssl.create_default_context()


def probe_smtp(server: SMTPServer, timeout: float) -> list[CheckMessage]:
    """Connect to ``server``, EHLO, STARTTLS when configured, EHLO, QUIT."""
    # Imported here: Django's mail utilities are needed only when a mailer is probed.
    from django.core.mail.utils import DNS_NAME

    step = "connect"
    connection: smtplib.SMTP | None = None
    try:
        local_hostname = DNS_NAME.get_fqdn()
        if server.use_ssl:
            step = "TLS connect"
            connection = smtplib.SMTP_SSL(
                server.host,
                server.port,
                local_hostname=local_hostname,
                timeout=timeout,
                context=_ssl_context(server),
            )
        else:
            connection = smtplib.SMTP(
                server.host, server.port, local_hostname=local_hostname, timeout=timeout
            )
        step = "EHLO"
        _reply(connection.ehlo(), step)
        if server.use_tls and not server.use_ssl:
            step = "STARTTLS"
            if not connection.has_extn("starttls"):
                return [_failed(server, step, "the server does not offer STARTTLS")]
            _reply(connection.starttls(context=_ssl_context(server)), step, ok=220)
            step = "EHLO after STARTTLS"
            _reply(connection.ehlo(), step)
    except Exception as exc:
        return [_failed(server, step, describe_error(exc))]
    finally:
        if connection is not None:
            _quit(connection)
    return []


def _reply(reply: tuple[int, bytes], step: str, ok: int = 250) -> None:
    code, text = reply
    if code != ok:
        detail = text.decode("utf-8", "replace")
        raise smtplib.SMTPResponseException(code, f"{step} answered {code} {detail}".strip())


def _quit(connection: smtplib.SMTP) -> None:
    try:
        connection.quit()
    except (smtplib.SMTPException, OSError):
        # The server hung up first, or the connection already failed: nothing to say goodbye to.
        connection.close()


def _failed(server: SMTPServer, step: str, error: str) -> CheckMessage:
    return E750.message(
        obj="settings.MAILERS['default']" if HAS_MAILERS else "settings.EMAIL_HOST",
        host=redact_text(server.host),
        port=server.port,
        step=step,
        error=error,
    )


__all__ = ["E750", "SMTPServer", "probe_smtp", "probes", "smtp_server"]

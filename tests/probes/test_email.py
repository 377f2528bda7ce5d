"""Live checks 75x: the e-mail probe says EHLO (and STARTTLS) to the default mailer's SMTP
server, and never logs in or sends."""

from __future__ import annotations

import time

import pytest

from django_prodkit.probes import email
from django_prodkit.settings.email import HAS_MAILERS, email_from_url
from tests.probes import PLANTED, ids, names, run_one, shown
from tests.servers import own_smtp, self_signed_certificate


def use_mail(settings, config):
    """Apply ``config`` (email_from_url's settings: MAILERS on Django 6.1, EMAIL_* before)."""
    for name, value in config.items():
        setattr(settings, name, value)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    return self_signed_certificate(tmp_path_factory.mktemp("smtp-tls"))


def test_smtp_server_answers(settings):
    with own_smtp() as server:
        use_mail(settings, email_from_url(f"smtp://user:{PLANTED}@127.0.0.1:{server.port}"))
        outcome = run_one(email, "email:default")
    assert outcome.messages == []
    assert outcome.ids == ("prodkit.E750",)
    # EHLO and QUIT, no login, no mail: the credentials were never sent.
    verbs = [command.split()[0].upper() for command in server.commands]
    assert verbs == ["EHLO", "QUIT"]
    assert PLANTED not in " ".join(server.commands)


def test_e750_starttls_configured_but_not_offered(settings):
    with own_smtp() as server:
        use_mail(settings, email_from_url(f"submission://u:{PLANTED}@127.0.0.1:{server.port}"))
        outcome = run_one(email, "email:default")
    [message] = outcome.messages
    assert message.id == "prodkit.E750"
    assert f"SMTP server 127.0.0.1:{server.port} failed at STARTTLS" in message.msg
    assert "does not offer STARTTLS" in message.msg
    assert PLANTED not in shown([outcome])


def test_e750_starttls_with_an_untrusted_certificate(settings, certificate):
    with own_smtp(certificate) as server:
        use_mail(settings, email_from_url(f"submission://u:p@localhost:{server.port}"))
        [message] = run_one(email, "email:default").messages
    assert message.id == "prodkit.E750"
    assert "failed at STARTTLS" in message.msg
    assert "CERTIFICATE_VERIFY_FAILED" in message.msg


def test_starttls_with_a_trusted_certificate_passes(settings, certificate, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    with own_smtp(certificate) as server:
        use_mail(settings, email_from_url(f"submission://u:p@localhost:{server.port}"))
        assert run_one(email, "email:default").messages == []
    verbs = [command.split()[0].upper() for command in server.commands]
    assert verbs == ["EHLO", "STARTTLS", "EHLO", "QUIT"]


def test_e750_implicit_tls_to_a_plain_server(settings):
    with own_smtp() as server:
        use_mail(settings, email_from_url(f"smtps://u:p@127.0.0.1:{server.port}"))
        [message] = run_one(email, "email:default", timeout=2.0).messages
    assert message.id == "prodkit.E750"
    assert "failed at TLS connect" in message.msg


def test_e750_refused_port(settings, refused_port):
    use_mail(settings, email_from_url(f"smtp://u:{PLANTED}@127.0.0.1:{refused_port}"))
    started = time.monotonic()
    outcome = run_one(email, "email:default")
    assert time.monotonic() - started < 2
    [message] = outcome.messages
    assert message.id == "prodkit.E750"
    assert "failed at connect" in message.msg
    assert "Connection refused" in message.msg
    assert PLANTED not in shown([outcome])


def test_e750_hung_server_costs_one_timeout(settings, hung):
    use_mail(settings, email_from_url(f"smtp://u:p@127.0.0.1:{hung}"))
    started = time.monotonic()
    [message] = run_one(email, "email:default", timeout=1.0).messages
    assert time.monotonic() - started <= 1.0 + 1
    assert message.id == "prodkit.E750"
    assert "did not answer within 1 s" in message.msg


@pytest.mark.parametrize("url", ["console://", "locmem://", "dummy://"])
def test_local_mail_backends_are_not_probed(settings, url):
    use_mail(settings, email_from_url(url))
    assert names(email) == []


@pytest.mark.skipif(HAS_MAILERS, reason="EMAIL_* settings are deprecated on Django 6.1")
def test_hand_written_email_settings_are_probed(settings, refused_port):
    # The EMAIL_* settings written by hand, as projects did before MAILERS.
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = refused_port
    settings.EMAIL_HOST_USER = "apikey"
    settings.EMAIL_HOST_PASSWORD = PLANTED
    settings.EMAIL_USE_TLS = True
    outcome = run_one(email, "email:default")
    assert ids(outcome) == ["prodkit.E750"]
    assert outcome.messages[0].obj == "settings.EMAIL_HOST"
    assert PLANTED not in shown([outcome])


@pytest.mark.skipif(not HAS_MAILERS, reason="MAILERS arrived in Django 6.1")
def test_hand_written_mailers_are_probed(settings, refused_port):
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": "127.0.0.1",
                "port": refused_port,
                "username": "apikey",
                "password": PLANTED,
                "use_tls": True,
            },
        }
    }
    outcome = run_one(email, "email:default")
    assert ids(outcome) == ["prodkit.E750"]
    assert outcome.messages[0].obj == "settings.MAILERS['default']"
    assert PLANTED not in shown([outcome])

"""email_from_url / email_from_env: every URL form, every error, and real sends over SMTP."""

from __future__ import annotations

import base64
import re
import socket
import socketserver
import time
from urllib.parse import quote

import pytest
from django.core import mail
from django.core.exceptions import ImproperlyConfigured
from hypothesis import given
from hypothesis import strategies as st

from django_prodkit.env import Env
from django_prodkit.settings import email as email_settings
from django_prodkit.settings.email import (
    ACS_BACKEND,
    HAS_MAILERS,
    LEGACY_SETTINGS,
    SCHEMES,
    SMTP_BACKEND,
)
from tests.servers import serving

PLANTED = "Pl4nted-s3cret"


def legacy(config):
    """The EMAIL_* view of ``config``, whichever form this Django gets (MAILERS on 6.1+)."""
    if "MAILERS" not in config:
        return config
    mailer = config["MAILERS"]["default"]
    options = {LEGACY_SETTINGS[k]: v for k, v in mailer.get("OPTIONS", {}).items()}
    rest = {k: v for k, v in config.items() if k != "MAILERS"}
    return {"EMAIL_BACKEND": mailer["BACKEND"], **options, **rest}


def email_from_url(*args, **kwargs):
    return legacy(email_settings.email_from_url(*args, **kwargs))


def email_from_env(*args, **kwargs):
    return legacy(email_settings.email_from_env(*args, **kwargs))


SMTP_KEYS = {
    "EMAIL_BACKEND",
    "EMAIL_HOST",
    "EMAIL_PORT",
    "EMAIL_HOST_USER",
    "EMAIL_HOST_PASSWORD",
    "EMAIL_USE_TLS",
    "EMAIL_USE_SSL",
    "EMAIL_TIMEOUT",
}


def smtp_part(config):
    keys = ("EMAIL_HOST", "EMAIL_PORT", "EMAIL_USE_TLS", "EMAIL_USE_SSL")
    return tuple(config[key] for key in keys)


# --- URL forms -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param("smtp://mail.example.com", ("mail.example.com", 25, False, False), id="smtp"),
        pytest.param("smtp://h:2525", ("h", 2525, False, False), id="smtp-port"),
        pytest.param("smtp://h?tls=true", ("h", 25, True, False), id="smtp-starttls"),
        pytest.param("smtp://h?ssl=true", ("h", 465, False, True), id="smtp-ssl-port-465"),
        pytest.param("smtp://h:2465?ssl=yes", ("h", 2465, False, True), id="smtp-ssl-own-port"),
        pytest.param("submission://h", ("h", 587, True, False), id="submission"),
        pytest.param("submission://h?tls=false", ("h", 587, False, False), id="submission-no-tls"),
        pytest.param("smtps://h", ("h", 465, False, True), id="smtps"),
        pytest.param("SMTPS://H:1465", ("h", 1465, False, True), id="upper-case"),
        pytest.param("smtp://[::1]:25", ("::1", 25, False, False), id="ipv6"),
    ],
)
def test_smtp_schemes_set_host_port_and_tls(url, expected):
    config = email_from_url(url)
    assert config["EMAIL_BACKEND"] == SMTP_BACKEND
    assert smtp_part(config) == expected


def test_smtp_url_gives_user_password_and_timeout():
    config = email_from_url("submission://me%40example.com:hunter2@smtp.example.com:587")
    assert config == {
        "EMAIL_BACKEND": SMTP_BACKEND,
        "EMAIL_HOST": "smtp.example.com",
        "EMAIL_PORT": 587,
        "EMAIL_HOST_USER": "me@example.com",
        "EMAIL_HOST_PASSWORD": "hunter2",
        "EMAIL_USE_TLS": True,
        "EMAIL_USE_SSL": False,
        "EMAIL_TIMEOUT": 10,
    }


@pytest.mark.parametrize(
    "password",
    [
        pytest.param("p@ss", id="at"),
        pytest.param("pa/ss", id="slash"),
        pytest.param("pa:ss", id="colon"),
        pytest.param("100%", id="percent"),
        pytest.param("a+b", id="plus-stays-plus"),
        pytest.param("sp ace", id="space"),
        pytest.param("q?h#", id="query-and-fragment"),
        pytest.param("pässwörd", id="non-ascii"),
    ],
)
def test_percent_encoded_password_is_decoded(password):
    config = email_from_url(f"smtp://user:{quote(password, safe='')}@h")
    assert config["EMAIL_HOST_USER"] == "user"
    assert config["EMAIL_HOST_PASSWORD"] == password


def test_unencoded_at_sign_in_password_still_parses():
    assert email_from_url("smtp://user:p@ss@h")["EMAIL_HOST_PASSWORD"] == "p@ss"


@given(st.text(min_size=1))
def test_any_password_survives_percent_encoding(password):
    config = email_from_url(f"smtps://user:{quote(password, safe='')}@h")
    assert config["EMAIL_HOST_PASSWORD"] == password


@pytest.mark.parametrize(
    ("url", "backend"),
    [
        pytest.param("console://", "django.core.mail.backends.console.EmailBackend", id="console"),
        pytest.param("locmem://", "django.core.mail.backends.locmem.EmailBackend", id="locmem"),
        pytest.param("dummy://", "django.core.mail.backends.dummy.EmailBackend", id="dummy"),
    ],
)
def test_local_backends(url, backend):
    config = email_from_url(url)
    assert config["EMAIL_BACKEND"] == backend
    if not HAS_MAILERS:  # MAILERS gives a local backend no options at all
        assert set(config) == SMTP_KEYS
        assert config["EMAIL_TIMEOUT"] == 10


def test_every_result_has_the_same_email_keys():
    urls = {
        "smtp": "smtp://h",
        "submission": "submission://h",
        "smtps": "smtps://h",
        "sendgrid": "sendgrid://KEY@",
        "azure-communication": "azure-communication://KEY@r.communication.azure.com",
        "console": "console://",
        "locmem": "locmem://",
        "dummy": "dummy://",
        "file": "file:///tmp/mail",
    }
    assert set(urls) == set(SCHEMES)
    expected = {"MAILERS"} if HAS_MAILERS else SMTP_KEYS
    for url in urls.values():
        # Every result replaces an earlier e-mail configuration whole.
        assert set(email_settings.email_from_url(url)) >= expected, url


@pytest.mark.parametrize(
    ("url", "path"),
    [
        pytest.param("file:///var/mail/outbox", "/var/mail/outbox", id="plain"),
        pytest.param("file:///srv/my%20mail", "/srv/my mail", id="percent-decoded"),
    ],
)
def test_file_backend_path(url, path):
    config = email_from_url(url)
    assert config["EMAIL_BACKEND"] == "django.core.mail.backends.filebased.EmailBackend"
    assert config["EMAIL_FILE_PATH"] == path


def test_file_backend_writes_messages(settings, tmp_path):
    for key, value in email_settings.email_from_url(f"file://{quote(str(tmp_path))}").items():
        setattr(settings, key, value)
    assert mail.send_mail("Hi", "Body", "a@example.com", ["b@example.com"]) == 1
    [written] = tmp_path.iterdir()
    assert "Subject: Hi" in written.read_text()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param("from=noreply%40example.com", {"DEFAULT_FROM_EMAIL": "noreply@example.com"}),
        pytest.param(
            "from=Example%20App%20%3Cnoreply%2Bapp%40example.com%3E",
            {"DEFAULT_FROM_EMAIL": "Example App <noreply+app@example.com>"},
            id="display-name-and-plus",
        ),
        pytest.param(
            "from=a+b@example.com", {"DEFAULT_FROM_EMAIL": "a+b@example.com"}, id="raw-plus"
        ),
        pytest.param(
            "from=a%40x.org&server_email=errors%40x.org",
            {"DEFAULT_FROM_EMAIL": "a@x.org", "SERVER_EMAIL": "errors@x.org"},
            id="both",
        ),
        pytest.param("", {}, id="none"),
    ],
)
@pytest.mark.parametrize("scheme", ["submission://u:p@h", "console://"])
def test_from_addresses(scheme, query, expected):
    config = email_from_url(f"{scheme}?{query}")
    assert {k: v for k, v in config.items() if k in {"DEFAULT_FROM_EMAIL", "SERVER_EMAIL"}} == (
        expected
    )


def test_timeout_argument():
    assert email_from_url("smtp://h", timeout=3)["EMAIL_TIMEOUT"] == 3


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("sendgrid://SG.key-123.abc@", id="key-as-user"),
        pytest.param("sendgrid://apikey:SG.key-123.abc@", id="apikey-user"),
        pytest.param("sendgrid://:SG.key-123.abc@", id="empty-user"),
        pytest.param("sendgrid://SG.key-123.abc@smtp.sendgrid.net", id="with-host"),
    ],
)
def test_sendgrid_shortcut(url):
    config = email_from_url(url)
    assert config["EMAIL_BACKEND"] == SMTP_BACKEND
    assert smtp_part(config) == ("smtp.sendgrid.net", 587, True, False)
    assert config["EMAIL_HOST_USER"] == "apikey"
    assert config["EMAIL_HOST_PASSWORD"] == "SG.key-123.abc"


def test_sendgrid_over_implicit_tls():
    config = email_from_url("sendgrid://KEY@?tls=false&ssl=true")
    assert smtp_part(config) == ("smtp.sendgrid.net", 465, False, True)


def test_azure_communication_with_access_key():
    key = "aBc/dEf+gHi=="  # base64, as the portal shows it
    config = email_from_url(
        f"azure-communication://{quote(key, safe='')}@contoso.communication.azure.com"
    )
    assert config["EMAIL_BACKEND"] == ACS_BACKEND
    assert config["AZURE_COMMUNICATION_ENDPOINT"] == "https://contoso.communication.azure.com/"
    assert config["AZURE_KEY_CREDENTIAL"] == key
    assert config["AZURE_COMMUNICATION_TRACKING_DISABLED"] is False
    assert "AZURE_TENANT_ID" not in config


def test_azure_communication_key_in_password_part():
    config = email_from_url("azure-communication://:KEY@contoso.communication.azure.com")
    assert config["AZURE_KEY_CREDENTIAL"] == "KEY"


def test_azure_communication_with_entra_id():
    config = email_from_url(
        "azure-communication://contoso.europe.communication.azure.com"
        "?tenant_id=00000000-1111-2222-3333-444444444444&tracking_disabled=true"
        "&from=DoNotReply%40contoso.example"
    )
    assert config["AZURE_COMMUNICATION_ENDPOINT"] == (
        "https://contoso.europe.communication.azure.com/"
    )
    assert config["AZURE_TENANT_ID"] == "00000000-1111-2222-3333-444444444444"
    assert config["AZURE_COMMUNICATION_TRACKING_DISABLED"] is True
    assert config["DEFAULT_FROM_EMAIL"] == "DoNotReply@contoso.example"
    assert "AZURE_KEY_CREDENTIAL" not in config


def test_azure_communication_needs_no_package():
    with pytest.raises(ImportError):
        __import__("django_azure_communication_email")
    assert email_from_url("azure-communication://K@r.communication.azure.com")


# --- errors ---------------------------------------------------------------------------------

ERRORS = [
    pytest.param(f"smtp://user:{PLANTED}@h?tls=true&ssl=true", "both STARTTLS", id="tls-and-ssl"),
    pytest.param(f"submission://user:{PLANTED}@h?ssl=1", "both STARTTLS", id="submission-ssl"),
    pytest.param(f"smtps://user:{PLANTED}@h?tls=on", "both STARTTLS", id="smtps-tls"),
    pytest.param(f"ftp://user:{PLANTED}@h", "smtp://, submission://", id="unknown-scheme"),
    pytest.param(f"smtp://user:{PLANTED}@", "has no host", id="no-host"),
    pytest.param(f"smtp://user:{PLANTED}@h:99999", "port", id="port-out-of-range"),
    pytest.param(f"smtp://user:{PLANTED}@h:0", "port", id="port-zero"),
    pytest.param(f"smtp://user:{PLANTED}@h:abc", "port", id="port-not-a-number"),
    pytest.param(f"smtp://user:{PLANTED}@h?tls=maybe", "?tls=true", id="bad-flag"),
    pytest.param(f"smtp://user:{PLANTED}@h?tsl=true", "unknown option 'tsl'", id="typo-option"),
    pytest.param(f"smtp://user:{PLANTED}@h?password={PLANTED}", "unknown option", id="pw-query"),
    pytest.param(f"smtp://user:{PLANTED}@h?{PLANTED}", "(name hidden)", id="key-as-option"),
    pytest.param(f"sendgrid://?key={PLANTED}", "unknown option 'key'", id="key-option-value"),
    pytest.param(f"smtp://user:{PLANTED}@h/path", "has a path", id="smtp-path"),
    pytest.param(f"smtp://user:{PLANTED}/x@h", "percent-encoded", id="raw-slash"),
    pytest.param(f"smtp://user:{PLANTED}?x@h", "percent-encoded", id="raw-question-mark"),
    pytest.param(f"smtp://user:{PLANTED}#x@h", "percent-encoded", id="raw-hash"),
    pytest.param(f"smtp://user:abc/{PLANTED}@h", "percent-encoded", id="raw-slash-after"),
    pytest.param(f"smtp://user:{PLANTED}@[::1", "value hidden", id="broken-ipv6"),
    pytest.param(f"user:{PLANTED}@h", "value hidden", id="no-scheme"),
    pytest.param(f"smtp:user:{PLANTED}@h", "value hidden", id="no-slashes"),
    pytest.param(f"sendgrid://{PLANTED}@?x=1", "unknown option", id="sendgrid-key-hidden"),
    pytest.param(f"sendgrid://{PLANTED}@?tls=1&ssl=1", "both", id="sendgrid-tls-and-ssl"),
    pytest.param("sendgrid://", "no SendGrid API key", id="sendgrid-no-key"),
    pytest.param("sendgrid://apikey:@", "no SendGrid API key", id="sendgrid-empty-key"),
    pytest.param(
        f"azure-communication://{PLANTED}@r.communication.azure.com?tenant_id=t",
        "both an access key",
        id="acs-key-and-tenant",
    ),
    pytest.param(
        "azure-communication://r.communication.azure.com", "neither", id="acs-no-credential"
    ),
    pytest.param(f"azure-communication://{PLANTED}@", "endpoint", id="acs-no-host"),
    pytest.param(
        f"azure-communication://{PLANTED}@r.communication.azure.com/emails", "path", id="acs-path"
    ),
    pytest.param(
        f"azure-communication://{PLANTED}@r.communication.azure.com?tls=true",
        "unknown option",
        id="acs-smtp-option",
    ),
    pytest.param("file://relative/path", "directory", id="file-relative"),
    pytest.param("file:///", "directory", id="file-root"),
    pytest.param("console://?tls=true", "unknown option", id="console-option"),
]


@pytest.mark.parametrize(("url", "fragment"), ERRORS)
def test_errors_name_source_and_form_and_hide_secrets(url, fragment):
    with pytest.raises(ImproperlyConfigured) as caught:
        email_from_url(url, source="MY_MAIL_URL")
    message = str(caught.value)
    assert message.startswith("MY_MAIL_URL ")
    assert fragment in message
    assert re.search(r"Expected|Use one of", message)
    assert PLANTED not in message
    assert PLANTED.lower() not in message.lower()


@pytest.mark.parametrize(
    "template",
    [
        pytest.param("smtp://user:{}@h?tls=1&ssl=1", id="smtp-password"),
        pytest.param("sendgrid://{}@?nope=1", id="sendgrid-key"),
        pytest.param("azure-communication://{}@r.communication.azure.com/x", id="acs-key"),
    ],
)
@given(text=st.text(min_size=6))
def test_no_secret_reaches_an_error_message(template, text):
    secret = f"zq9{text}"
    encoded = quote(secret, safe="")
    with pytest.raises(ImproperlyConfigured) as caught:
        email_from_url(template.format(encoded))
    assert secret not in str(caught.value)
    assert encoded not in str(caught.value)


@pytest.mark.parametrize(
    "timeout",
    [pytest.param(0, id="zero"), pytest.param(-5, id="negative"), pytest.param(True, id="bool")],
)
def test_timeout_must_be_positive(timeout):
    with pytest.raises(ImproperlyConfigured, match=r"MY_MAIL_URL.*>= 1"):
        email_from_url("smtp://h", source="MY_MAIL_URL", timeout=timeout)


# --- email_from_env -------------------------------------------------------------------------


def test_env_defaults_to_console():
    config = email_from_env(Env({}))
    assert config["EMAIL_BACKEND"] == "django.core.mail.backends.console.EmailBackend"
    assert "DEFAULT_FROM_EMAIL" not in config


def test_env_own_default():
    assert email_from_env(Env({}), default="locmem://")["EMAIL_BACKEND"].endswith(
        "locmem.EmailBackend"
    )


def test_env_reads_url_timeout_and_from():
    env = Env(
        {
            "EMAIL_URL": "submission://u:p%2Fw@smtp.example.com",
            "PRODKIT_EMAIL_TIMEOUT": "4",
            "DEFAULT_FROM_EMAIL": "Shop <shop@example.com>",
        }
    )
    config = email_from_env(env)
    assert smtp_part(config) == ("smtp.example.com", 587, True, False)
    assert config["EMAIL_HOST_PASSWORD"] == "p/w"
    assert config["EMAIL_TIMEOUT"] == 4
    assert config["DEFAULT_FROM_EMAIL"] == "Shop <shop@example.com>"


def test_env_prefix_names_the_variable():
    env = Env({"APP_EMAIL_URL": f"nope://u:{PLANTED}@h"}, prefix="APP_")
    with pytest.raises(ImproperlyConfigured, match=r"^APP_EMAIL_URL ") as caught:
        email_from_env(env)
    assert PLANTED not in str(caught.value)


@pytest.mark.parametrize(
    ("environ", "match"),
    [
        pytest.param({"PRODKIT_EMAIL_TIMEOUT": "soon"}, "PRODKIT_EMAIL_TIMEOUT", id="timeout-word"),
        pytest.param({"PRODKIT_EMAIL_TIMEOUT": "0"}, "PRODKIT_EMAIL_TIMEOUT", id="timeout-zero"),
        pytest.param(
            {"EMAIL_URL": "smtp://h?from=a%40x.org", "DEFAULT_FROM_EMAIL": "b@x.org"},
            "Both EMAIL_URL",
            id="from-twice",
        ),
        pytest.param({"EMAIL_URL": f"u:{PLANTED}@h"}, "EMAIL_URL", id="not-a-url"),
    ],
)
def test_env_errors(environ, match):
    with pytest.raises(ImproperlyConfigured, match=match) as caught:
        email_from_env(Env(environ))
    assert PLANTED not in str(caught.value)


# --- real sends -----------------------------------------------------------------------------


class SMTPHandler(socketserver.StreamRequestHandler):
    """Speak just enough SMTP for smtplib: EHLO, AUTH PLAIN/LOGIN, MAIL, RCPT, DATA, QUIT."""

    timeout = 5

    def reply(self, *lines):
        self.wfile.write("".join(f"{line}\r\n" for line in lines).encode())

    def read(self):
        return self.rfile.readline().decode().rstrip("\r\n")

    def handle(self):
        server = self.server
        envelope = {"from": None, "to": []}
        self.reply("220 127.0.0.1 prodkit test SMTP")
        while command := self.read():
            verb, _, argument = command.partition(" ")
            verb = verb.upper()
            if verb == "EHLO":
                self.reply("250-127.0.0.1", f"250 AUTH {' '.join(server.mechanisms)}")
            elif verb == "HELO":
                self.reply("250 127.0.0.1")
            elif verb == "AUTH":
                server.logins.append(self.authenticate(*argument.split(" ")))
                self.reply("235 2.7.0 Authentication successful")
            elif verb == "MAIL":
                envelope["from"] = re.search(r"<(.*?)>", argument)[1]
                self.reply("250 OK")
            elif verb == "RCPT":
                envelope["to"].append(re.search(r"<(.*?)>", argument)[1])
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                lines = []
                while (line := self.read()) != ".":
                    lines.append(line.removeprefix("."))  # undo dot-stuffing
                server.messages.append({**envelope, "data": "\n".join(lines)})
                self.reply("250 OK queued")
            elif verb in {"RSET", "NOOP"}:
                self.reply("250 OK")
            elif verb == "QUIT":
                self.reply("221 Bye")
                return
            else:
                self.reply("502 Command not implemented")

    def authenticate(self, mechanism, initial=None):
        def b64(text):
            return base64.b64decode(text).decode()

        if mechanism.upper() == "PLAIN":
            if initial is None:
                self.reply("334 ")
                initial = self.read()
            _, user, password = b64(initial).split("\0")
            return user, password
        if initial is None:
            self.reply("334 VXNlcm5hbWU6")
            initial = self.read()
        self.reply("334 UGFzc3dvcmQ6")
        return b64(initial), b64(self.read())


class SMTPServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True

    def __init__(self, mechanisms):
        self.mechanisms = mechanisms
        self.logins = []
        self.messages = []
        super().__init__(("127.0.0.1", 0), SMTPHandler)


@pytest.fixture(params=[["PLAIN"], ["LOGIN"]], ids=["auth-plain", "auth-login"])
def smtp_server(request):
    with serving(SMTPServer(request.param), poll_interval=0.05) as server:
        yield server


def use(settings, config):
    for key, value in config.items():
        setattr(settings, key, value)


@pytest.mark.slow
def test_real_send_over_smtp(settings, smtp_server):
    port = smtp_server.server_address[1]
    password = "p@ss/w:rd%"
    url = (
        f"smtp://mailer:{quote(password, safe='')}@127.0.0.1:{port}"
        "?from=Shop%20%3Cshop%2Borders%40example.com%3E"
    )
    use(settings, email_settings.email_from_url(url, timeout=5))

    sent = mail.send_mail("Order 42", "Thanks.\n.dotted line", None, ["buyer@example.com"])

    assert sent == 1
    assert smtp_server.logins == [("mailer", password)]
    [message] = smtp_server.messages
    assert message["from"] == "shop+orders@example.com"
    assert message["to"] == ["buyer@example.com"]
    assert "Subject: Order 42" in message["data"]
    assert "From: Shop <shop+orders@example.com>" in message["data"]
    assert ".dotted line" in message["data"]


@pytest.fixture
def silent_server():
    """A server that accepts TCP connections (through the backlog) and never says a word."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        yield listener.getsockname()[1]


@pytest.mark.slow
def test_timeout_stops_a_silent_server_from_hanging_the_request(settings, silent_server):
    use(
        settings,
        email_settings.email_from_url(f"smtp://user:pass@127.0.0.1:{silent_server}", timeout=1),
    )
    started = time.monotonic()
    with pytest.raises(OSError, match="timed out"):
        mail.send_mail("Hi", "Body", "a@example.com", ["b@example.com"])
    elapsed = time.monotonic() - started
    assert 0.5 < elapsed < 5


def test_settings_form_follows_the_django_version():
    config = email_settings.email_from_url("submission://u:p@smtp.example.com")
    assert ("MAILERS" in config) is HAS_MAILERS
    assert any(key.startswith("EMAIL_") for key in config) is not HAS_MAILERS

"""Checks 7xx: server and e-mail.

E-mail settings are read the way Django's mail backends read them: ``MAILERS`` on Django >= 6.1
when the project sets it, the ``EMAIL_*`` settings otherwise. On 6.1 those are deprecated and
reading them warns, so a name the project did not set is taken from Django's defaults instead,
and one it did set is read with that (already given) warning silenced.
"""

from __future__ import annotations

import shlex
import warnings
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any

from django.conf import global_settings, settings
from django.core.checks import CheckMessage
from django.utils.module_loading import import_string

from django_prodkit.checks.context import deployment
from django_prodkit.checks.inspect import backend_is, is_set_by_project
from django_prodkit.checks.registry import Check, prodkit_check
from django_prodkit.env import Env
from django_prodkit.redact import redact_text
from django_prodkit.settings.caches import is_loopback_host
from django_prodkit.settings.email import HAS_MAILERS, LEGACY_SETTINGS, SMTP_BACKEND
from django_prodkit.settings.server import APP_SERVICE_REQUEST_TIMEOUT, cpu_cores, server_timeout

# Django's backends that deliver nothing: print, keep in memory, drop, write to a directory.
LOCAL_MAIL_BACKENDS = (
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
    "django.core.mail.backends.dummy.EmailBackend",
    "django.core.mail.backends.filebased.EmailBackend",
)
# Domains no mail server outside this machine accepts mail from.
_LOCAL_DOMAINS = ("localhost", "localdomain", "local", "internal", "invalid")
SMTP_PORT = 25
# More worker processes per core than this only add memory and context switches.
MAX_WORKERS_PER_CORE = 4

E701 = Check(
    id="prodkit.E701",
    title="WSGI_APPLICATION does not import",
    msg="WSGI_APPLICATION '{path}' {problem}.",
    hint=(
        "Point it at the module's callable, e.g. 'mysite.wsgi.application', or at prodkit's "
        "generic entrypoint 'django_prodkit.wsgi.application'."
    ),
    why=(
        "The WSGI server imports this path at start: a wrong one means every worker fails to "
        "boot and the platform restarts the container in a loop."
    ),
)
E702 = Check(
    id="prodkit.E702",
    title="ASGI_APPLICATION does not import",
    msg="ASGI_APPLICATION '{path}' {problem}.",
    hint=(
        "Point it at the module's callable, e.g. 'mysite.asgi.application', or at prodkit's "
        "generic entrypoint 'django_prodkit.asgi.application'."
    ),
    why=(
        "Daphne's runserver and Channels load the application from this path: a wrong one "
        "stops the server at start."
    ),
)
W703 = Check(
    id="prodkit.W703",
    title="the server timeout is above App Service's",
    msg=(
        "The worker timeout ({source}) is {timeout}, and App Service's front end drops a request "
        "after {limit} s."
    ),
    hint=(
        "Set PRODKIT_TIMEOUT below {limit} (prodkit's gunicorn config defaults to 220) and move "
        "longer work to a background task."
    ),
    why=(
        "The front end answers 504 after 230 s while the worker goes on with the request: the "
        "user sees a bare gateway error, the app logs no timeout, and the worker stays busy."
    ),
)
W704 = Check(
    id="prodkit.W704",
    title="more workers than the CPUs can run",
    msg=(
        "{source} asks for {workers} worker processes on {cores} CPU core(s) (this machine): "
        "more than {factor} per core."
    ),
    hint=(
        "Leave WEB_CONCURRENCY unset (prodkit's gunicorn config then runs 2 x cores + 1), or use "
        "threads or the async worker for concurrency (PRODKIT_THREADS)."
    ),
    why=(
        "Each worker is a full copy of the project in memory. Past a few per core they only "
        "compete for the CPU; the instance runs out of memory first, and the OOM killer takes "
        "workers down under load."
    ),
)
I705 = Check(
    id="prodkit.I705",
    title="one worker on several CPU cores",
    msg="{source} asks for 1 worker process on {cores} CPU cores (this machine).",
    hint=(
        "Run one process per core or more: leave WEB_CONCURRENCY unset (2 x cores + 1), or "
        "ignore this when the platform scales by adding one-process instances."
    ),
    why=(
        "Python runs one thread at a time per process: one worker uses one core however many "
        "the plan pays for, and a slow request holds up the ones behind it."
    ),
)
W706 = Check(
    id="prodkit.W706",
    title="e-mail is not sent",
    msg="{setting} is {backend}, which does not send e-mail.",
    hint=(
        "Use a real mail service: EMAIL_URL=submission://USER:PASSWORD@HOST:587 (or sendgrid://, "
        "azure-communication://) with django_prodkit.settings.email_from_env(env)."
    ),
    why=(
        "Password-reset mails, error reports to ADMINS and every other message the site sends "
        "are printed, kept in memory or dropped: users wait for a mail that never comes."
    ),
)
W707 = Check(
    id="prodkit.W707",
    title="DEFAULT_FROM_EMAIL is a local address",
    msg="DEFAULT_FROM_EMAIL is '{address}', an address at a domain mail servers reject.",
    hint=(
        "Set DEFAULT_FROM_EMAIL to an address at your domain (DEFAULT_FROM_EMAIL variable, or "
        "EMAIL_URL=...?from=noreply@example.com with email_from_env())."
    ),
    why=(
        "Mail from a non-existent domain fails SPF and DMARC: providers refuse it or file it as "
        "spam, so password resets never arrive."
    ),
)
W708 = Check(
    id="prodkit.W708",
    title="SERVER_EMAIL is a local address",
    msg="SERVER_EMAIL is '{address}' and error reports are mailed to {recipients}.",
    hint=(
        "Set SERVER_EMAIL to an address at your domain (EMAIL_URL=...?server_email=... with "
        "email_from_env())."
    ),
    why=(
        "Django sends error reports to ADMINS and MANAGERS from SERVER_EMAIL; from a local "
        "address they are rejected or filed as spam, exactly when something is broken."
    ),
)
W709 = Check(
    id="prodkit.W709",
    title="SMTP without a timeout",
    msg="E-mail goes by SMTP to {host} with no timeout ({setting} is not set).",
    hint=(
        "Set a timeout of a few seconds; email_from_env() sets 10 s (PRODKIT_EMAIL_TIMEOUT) for "
        "every SMTP URL."
    ),
    why=(
        "Django's SMTP backend waits forever by default. A mail server that accepts the "
        "connection and stops answering holds the request, and the worker, until the front end "
        "gives up."
    ),
)
W710 = Check(
    id="prodkit.W710",
    title="SMTP password sent without TLS",
    msg=(
        "E-mail goes by SMTP to {host} with a user name and password, and neither {tls} nor "
        "{ssl} is on."
    ),
    hint=(
        "Use STARTTLS on port 587 (EMAIL_URL=submission://USER:PASSWORD@HOST) or TLS on 465 "
        "(smtps://); email_from_env() sets the flags for these schemes."
    ),
    why=(
        "Without TLS the SMTP login, and every message, crosses the network in clear text; most "
        "providers refuse the login outright, so mail fails besides."
    ),
)
E711 = Check(
    id="prodkit.E711",
    title="SMTP asks for both STARTTLS and TLS",
    msg="E-mail settings turn on both {tls} and {ssl}.",
    hint=(
        "Keep one: STARTTLS for port 587 (submission://), implicit TLS for 465 (smtps://); "
        "email_from_url() refuses both."
    ),
    why=(
        "Django's SMTP backend raises ValueError when both are set: every e-mail, password "
        "resets included, fails with a 500."
    ),
)
I712 = Check(
    id="prodkit.I712",
    title="SMTP on port 25 from a cloud platform",
    msg="E-mail goes by SMTP to port 25 of {host}, from {platform}.",
    hint=(
        "Use port 587 with STARTTLS (EMAIL_URL=submission://USER:PASSWORD@HOST) or a mail API "
        "(sendgrid://, azure-communication://)."
    ),
    why=(
        "Azure blocks outbound connections to port 25 for most subscriptions, and other clouds "
        "block or throttle it: the connection hangs or is refused, and no mail leaves."
    ),
)


# --- Entrypoints -------------------------------------------------------------------------------


def _import_problem(path: str) -> str | None:
    """Return why ``path`` names no callable, or None when it does."""
    try:
        with warnings.catch_warnings():
            # Building the application builds the middleware, which may warn about the
            # environment (whitenoise: no STATIC_ROOT yet); that is not this check's finding.
            warnings.simplefilter("ignore")
            found = import_string(path)
    except Exception as exc:  # whatever the module raises, the server would too
        detail = redact_text(str(exc))
        return f"does not import ({type(exc).__name__}{f': {detail}' if detail else ''})"
    if not callable(found):
        return f"names a {type(found).__name__}, not a callable application"
    return None


def _entrypoint(spec: Check, name: str) -> list[CheckMessage]:
    path = getattr(settings, name, None)
    if not path:
        return []
    problem = _import_problem(str(path))
    if problem is None:
        return []
    return [spec.message(obj=f"settings.{name}", path=path, problem=problem)]


@prodkit_check(E701)
def check_wsgi_application(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E701: WSGI_APPLICATION does not import or names no callable."""
    return _entrypoint(E701, "WSGI_APPLICATION")


@prodkit_check(E702)
def check_asgi_application(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E702: ASGI_APPLICATION does not import or names no callable."""
    return _entrypoint(E702, "ASGI_APPLICATION")


# --- Server sizing -----------------------------------------------------------------------------


def _gunicorn_timeout(env: Env) -> int | None:
    """The ``--timeout`` in ``GUNICORN_CMD_ARGS`` (which wins over a config file), or None."""
    try:
        args = shlex.split(env.raw("GUNICORN_CMD_ARGS") or "")
    except ValueError:
        return None
    found = None
    for i, arg in enumerate(args):
        value = None
        if arg in {"-t", "--timeout"} and i + 1 < len(args):
            value = args[i + 1]
        elif arg.startswith("--timeout="):
            value = arg.partition("=")[2]
        elif arg.startswith("-t") and arg[2:].isdigit():
            value = arg[2:]
        if value is not None and value.strip().isdigit():
            found = int(value)
    return found


@prodkit_check(W703)
def check_server_timeout(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W703: the worker timeout is at or above App Service's front-end limit."""
    env = Env()
    if deployment(env).platform.kind != "appservice":
        return []
    timeout = _gunicorn_timeout(env)
    source, obj = "GUNICORN_CMD_ARGS --timeout", "os.environ['GUNICORN_CMD_ARGS']"
    if timeout is None:
        timeout = server_timeout(env)
        source, obj = "PRODKIT_TIMEOUT", "os.environ['PRODKIT_TIMEOUT']"
    if 0 < timeout < APP_SERVICE_REQUEST_TIMEOUT:
        return []
    shown = "0 (no timeout)" if timeout == 0 else f"{timeout} s"
    return [W703.message(obj=obj, source=source, timeout=shown, limit=APP_SERVICE_REQUEST_TIMEOUT)]


def _workers_source(env: Env) -> str | None:
    if getattr(settings, "PRODKIT_WORKERS", None) is not None:
        return "PRODKIT_WORKERS"
    if env.is_set("WEB_CONCURRENCY"):
        return "WEB_CONCURRENCY"
    return None  # gunicorn config's default, 2 x cores + 1


@prodkit_check(W704, I705)
def check_worker_count(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W704: more than 4 workers per core; I705: one worker on several cores."""
    env = Env()
    source = _workers_source(env)
    if source is None:
        return []
    obj = f"settings.{source}" if source == "PRODKIT_WORKERS" else f"os.environ[{source!r}]"
    workers, cores = deployment(env).workers, cpu_cores()
    if workers > MAX_WORKERS_PER_CORE * cores:
        return [
            W704.message(
                obj=obj, source=source, workers=workers, cores=cores, factor=MAX_WORKERS_PER_CORE
            )
        ]
    if workers == 1 and cores > 1:
        return [I705.message(obj=obj, source=source, cores=cores)]
    return []


# --- E-mail ------------------------------------------------------------------------------------


def _legacy(name: str) -> Any:
    """Return the ``EMAIL_*`` setting ``name`` without a deprecation warning on Django 6.1."""
    if not HAS_MAILERS:
        return getattr(settings, name, None)
    if not is_set_by_project(name):
        return getattr(global_settings, name, None)
    with warnings.catch_warnings():
        # The project set it, and Django warned when the settings were loaded.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        return getattr(settings, name, None)


@dataclass(frozen=True)
class Mailer:
    """One configured mailer: ``MAILERS[alias]`` or, before Django 6.1, the ``EMAIL_*``
    settings (``legacy``); ``options`` uses the ``MAILERS`` option names."""

    alias: str
    backend: str
    options: dict[str, Any]
    legacy: bool

    @property
    def name(self) -> str:
        """The setting that chooses the backend: ``EMAIL_BACKEND`` or ``MAILERS['default']``."""
        return "EMAIL_BACKEND" if self.legacy else f"MAILERS[{self.alias!r}]"

    def setting(self, option: str) -> str:
        """The setting that holds ``option`` (``timeout`` -> ``EMAIL_TIMEOUT``)."""
        if self.legacy:
            return LEGACY_SETTINGS[option]
        return f"MAILERS[{self.alias!r}]['OPTIONS'][{option!r}]"

    def obj(self, option: str | None = None) -> str:
        """The ``obj`` of a message about ``option`` (or the backend)."""
        if option is None:
            return f"settings.{self.name}"
        if self.legacy:
            return f"settings.{self.setting(option)}"
        return f"settings.MAILERS[{self.alias!r}]"

    @property
    def host(self) -> str:
        """The SMTP host (Django's default: localhost)."""
        return str(self.options.get("host") or "localhost")

    @property
    def port(self) -> int:
        """The SMTP port (Django's default: 25)."""
        try:
            return int(self.options.get("port") or SMTP_PORT)
        except (TypeError, ValueError):
            return SMTP_PORT

    @property
    def is_smtp(self) -> bool:
        """True for Django's SMTP backend or a subclass."""
        return backend_is(self.backend, SMTP_BACKEND)


def mailers() -> list[Mailer]:
    """Return the configured mailers, ``default`` first."""
    configured = getattr(settings, "MAILERS", None) if HAS_MAILERS else None
    if isinstance(configured, dict):
        found = []
        for alias, entry in configured.items():
            entry = entry if isinstance(entry, dict) else {}
            options = entry.get("OPTIONS")
            found.append(
                Mailer(
                    alias=str(alias),
                    backend=str(entry.get("BACKEND") or SMTP_BACKEND),
                    options=dict(options) if isinstance(options, dict) else {},
                    legacy=False,
                )
            )
        return sorted(found, key=lambda m: m.alias != "default")
    options = {option: _legacy(name) for option, name in LEGACY_SETTINGS.items()}
    backend = str(_legacy("EMAIL_BACKEND") or SMTP_BACKEND)
    return [Mailer(alias="default", backend=backend, options=options, legacy=True)]


@prodkit_check(W706)
def check_mail_is_sent(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W706: the default mailer is a console, locmem, dummy or file backend."""
    default = next((m for m in mailers() if m.alias == "default"), None)
    if default is None or not backend_is(default.backend, *LOCAL_MAIL_BACKENDS):
        return []
    return [W706.message(obj=default.obj(), setting=default.name, backend=default.backend)]


def is_local_address(address: Any) -> bool:
    """Return True when ``address`` (``name <addr>`` or ``addr``) is at a domain that exists
    only on one machine or network (``localhost``, ``*.local``, ``*.internal``...)."""
    _, addr = parseaddr(str(address or ""))
    domain = addr.rpartition("@")[2].lower().rstrip(".")
    if not domain:
        return False
    return domain.rpartition(".")[2] in _LOCAL_DOMAINS or "." not in domain


def _shown_address(address: Any) -> str:
    return parseaddr(str(address))[1]


@prodkit_check(W707)
def check_default_from_email(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W707: DEFAULT_FROM_EMAIL is at a local domain (Django's default webmaster@localhost)."""
    address = getattr(settings, "DEFAULT_FROM_EMAIL", "webmaster@localhost")
    if not is_local_address(address):
        return []
    return [W707.message(obj="settings.DEFAULT_FROM_EMAIL", address=_shown_address(address))]


@prodkit_check(W708)
def check_server_email(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W708: SERVER_EMAIL is at a local domain while error reports are mailed."""
    address = getattr(settings, "SERVER_EMAIL", "root@localhost")
    recipients = [n for n in ("ADMINS", "MANAGERS") if getattr(settings, n, None)]
    if not recipients or not is_local_address(address):
        return []
    return [
        W708.message(
            obj="settings.SERVER_EMAIL",
            address=_shown_address(address),
            recipients=" and ".join(recipients),
        )
    ]


def _smtp_mailers() -> list[Mailer]:
    return [m for m in mailers() if m.is_smtp]


@prodkit_check(W709)
def check_smtp_timeout(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W709: SMTP to a remote host without a timeout."""
    return [
        W709.message(obj=m.obj("timeout"), host=m.host, setting=m.setting("timeout"))
        for m in _smtp_mailers()
        if not m.options.get("timeout") and not is_loopback_host(m.host)
    ]


@prodkit_check(W710, E711)
def check_smtp_tls(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W710: SMTP credentials to a remote host without TLS; E711: both STARTTLS and TLS."""
    found = []
    for m in _smtp_mailers():
        tls, ssl = bool(m.options.get("use_tls")), bool(m.options.get("use_ssl"))
        names = {"tls": m.setting("use_tls"), "ssl": m.setting("use_ssl")}
        if tls and ssl:
            found.append(E711.message(obj=m.obj("use_ssl"), **names))
        elif not (tls or ssl) and m.options.get("username") and not is_loopback_host(m.host):
            found.append(W710.message(obj=m.obj("use_tls"), host=m.host, **names))
    return found


@prodkit_check(I712)
def check_smtp_port_25(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """I712: SMTP to port 25 of a remote host from a cloud platform."""
    platform = deployment().platform.kind
    if platform == "local":
        return []
    return [
        I712.message(obj=m.obj("port"), host=m.host, platform=platform)
        for m in _smtp_mailers()
        if m.port == SMTP_PORT and not is_loopback_host(m.host)
    ]

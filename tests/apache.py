"""An Apache of a test's own: a site config in, a running server on a free port out.

The site config is what goes in Debian's ``sites-enabled/`` (``<VirtualHost>`` blocks, as a
generated file has them); every ``@PORT@`` in it becomes the free port chosen for the test.
The server config around it loads the modules the deployment files use, mod_wsgi built for
this virtualenv among them (``mod_wsgi-express module-config``), and keeps everything Apache
writes (pid file, logs, mutexes, mod_wsgi's sockets) in the test's directory: the Debian
package's configuration and service are never touched.

Run as root, Apache refuses to serve as root (its ``User``) and mod_wsgi refuses root daemon
processes, while another user may not read the virtualenv's interpreter (here under
``/root``). So Apache then runs in a user namespace of its own (``unshare``), as an unprivileged
user inside that is root outside: it can read what the test can, and nothing else changes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.example import BIN
from tests.servers import FrontEnd, free_port, process_group, require_binary, wait_until_listening

PORT = "@PORT@"
MODULES_DIR = Path("/usr/lib/apache2/modules")
# What the generated files need, and what the server config itself uses (mpm, unixd is
# built in on Debian).
MODULES = (
    "mpm_event",
    "authz_core",
    "mime",
    "dir",
    "alias",
    "headers",
    "remoteip",
    "proxy",
    "proxy_http",
    "proxy_balancer",
    "slotmem_shm",
    "lbmethod_byrequests",
    "xsendfile",
)
# The unprivileged user Apache is inside its user namespace: nobody.
_NAMESPACE_ID = "65534"
# The client's address as Apache believes it (%a), the connection's (%{c}a), the request.
ACCESS_LOG_FORMAT = '"%a %{c}a \\"%r\\" %>s"'


def apache_binary() -> str:
    """Return apache2's path (Debian installs it in /usr/sbin), or skip (fail under CI)."""
    if os.path.exists("/usr/sbin/apache2"):
        return "/usr/sbin/apache2"
    return require_binary("apache2", "apache2")


def mod_wsgi_load() -> str:
    """Return the LoadModule line of the mod_wsgi built for this virtualenv's Python, or skip
    (fail under CI) naming what installs it."""
    express = BIN / "mod_wsgi-express"
    if not express.exists():
        message = (
            "mod_wsgi is not installed in the virtualenv (pip install mod_wsgi, part of the "
            "`test` extra; it builds with apache2-dev, which scripts/system-deps.sh installs)"
        )
        (pytest.fail if os.environ.get("CI") else pytest.skip)(message)
    config = subprocess.run(
        [str(express), "module-config"], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    return next(line for line in config.splitlines() if line.startswith("LoadModule"))


def _module_lines() -> str:
    lines = []
    for name in MODULES:
        path = MODULES_DIR / f"mod_{name}.so"
        if not path.exists():
            package = "libapache2-mod-xsendfile" if name == "xsendfile" else "apache2"
            message = (
                f"{path} is missing (Debian package {package}; scripts/system-deps.sh installs it)"
            )
            (pytest.fail if os.environ.get("CI") else pytest.skip)(message)
        lines.append(f"LoadModule {name}_module {path}")
    return "\n".join([*lines, mod_wsgi_load()]) + "\n"


def apache_conf(site_config: str, directory: Path, port: int) -> str:
    """Return a whole server config: the modules, ``Listen 127.0.0.1:PORT``, Apache's files
    under ``directory``, then ``site_config``."""
    return (
        f'ServerRoot "{directory}"\n'
        "ServerName 127.0.0.1\n"
        f"Listen 127.0.0.1:{port}\n"
        f'PidFile "{directory / "apache.pid"}"\n'
        f'DefaultRuntimeDir "{directory / "run"}"\n'
        f'Mutex "file:{directory / "run"}" default\n'
        f'ErrorLog "{directory / "error.log"}"\n'
        "LogLevel warn\n"
        f"{_module_lines()}"
        f"LogFormat {ACCESS_LOG_FORMAT} prodkit\n"
        f'CustomLog "{directory / "access.log"}" prodkit\n'
        "TypesConfig /etc/mime.types\n"
        # mod_wsgi's daemon sockets, which would otherwise go to /var/run/apache2.
        f'WSGISocketPrefix "{directory / "run" / "wsgi"}"\n'
        # The daemon processes' Python is the virtualenv's: no interpreter in Apache's own
        # children.
        "WSGIRestrictEmbedded On\n"
        f"{site_config}\n"
    )


def _write_conf(site_config: str, directory: Path, port: int) -> Path:
    (directory / "run").mkdir(parents=True, exist_ok=True)
    conf = directory / "apache.conf"
    conf.write_text(apache_conf(site_config, directory, port))
    return conf


def _argv(conf: Path, *options: str) -> list[str]:
    argv = [apache_binary(), "-f", str(conf), *options]
    if os.geteuid() != 0:
        return argv
    unshare = shutil.which("unshare")
    if unshare is None:
        message = "unshare is not installed (Debian package util-linux): Apache can't run as root"
        (pytest.fail if os.environ.get("CI") else pytest.skip)(message)
    user = [f"--map-user={_NAMESPACE_ID}", f"--map-group={_NAMESPACE_ID}"]
    return [unshare, "--user", *user, *argv]


def apache_test(site_config: str, directory: Path, port: int | None = None) -> str:
    """Run ``apache2 -t`` on ``site_config`` (as ``apache_conf`` wraps it, ``@PORT@`` replaced
    by ``port`` or a free one); return Apache's report, or fail with it when Apache refuses
    the config."""
    port = port or free_port()
    conf = _write_conf(site_config.replace(PORT, str(port)), directory, port)
    result = subprocess.run(
        _argv(conf, "-t"), capture_output=True, text=True, timeout=60, check=False
    )
    report = result.stdout + result.stderr
    assert result.returncode == 0, f"Apache refuses the config:\n{report}\n{conf.read_text()}"
    return report


@contextmanager
def own_apache(
    site_config: str, directory: Path, env: dict[str, str] | None = None
) -> Iterator[FrontEnd]:
    """Run Apache with ``site_config`` (``@PORT@`` replaced by a free port) until the block
    ends, with ``env`` as its environment (mod_wsgi's daemon processes inherit it); files go
    under ``directory``. A config Apache refuses fails with its report."""
    port = free_port()
    site_config = site_config.replace(PORT, str(port))
    apache_test(site_config, directory, port)
    server = FrontEnd("apache", port, directory)
    # SIGTERM: Apache stops at once, its children and mod_wsgi's daemons with it.
    with process_group(_argv(directory / "apache.conf", "-DFOREGROUND"), env=env):
        wait_until_listening(port, "Apache", server.logs, timeout=30)
        yield server

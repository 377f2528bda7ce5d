"""An nginx of a test's own: a config string in, a running server on a free port out.

The config text is what goes in nginx's ``http {}`` block (``upstream`` and ``server``
blocks, as a site file or a generated config would have them); every ``@PORT@`` in it
becomes the free port chosen for the test. Everything nginx writes (pid file, error and
access logs, the buffers of request and response bodies) stays in the test's directory, so
the Debian package's own configuration and service are never touched.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.servers import FrontEnd, free_port, process_group, require_binary, wait_until_listening

PORT = "@PORT@"

# Every directory nginx would otherwise take from its compile-time defaults under /var.
_TEMP_PATHS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


def nginx_binary() -> str:
    """Return nginx's path (Debian installs it in /usr/sbin), or skip (fail under CI)."""
    if os.path.exists("/usr/sbin/nginx"):
        return "/usr/sbin/nginx"
    return require_binary("nginx", "nginx")


def nginx_conf(http_config: str, directory: Path) -> str:
    """Return a whole nginx.conf: ``http_config`` inside an ``http {}`` block, nginx in the
    foreground, its pid file, logs and temporary files under ``directory``."""
    # Run as root, nginx would start its workers as nobody, who cannot read a test's
    # temporary directory (0700); as anyone else the directive is ignored with a warning.
    user = "user root root;\n" if os.geteuid() == 0 else ""
    temp_paths = "".join(
        f"    {name}_temp_path {directory / 'temp' / name};\n" for name in _TEMP_PATHS
    )
    return (
        f"{user}"
        "daemon off;\n"
        "worker_processes 1;\n"
        f"pid {directory / 'nginx.pid'};\n"
        f"error_log {directory / 'error.log'} warn;\n"
        "events { worker_connections 1024; }\n"
        "http {\n"
        f"    access_log {directory / 'access.log'};\n"
        f"{temp_paths}"
        f"{http_config}\n"
        "}\n"
    )


def _write_conf(http_config: str, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name in _TEMP_PATHS:
        (directory / "temp" / name).mkdir(parents=True, exist_ok=True)
    conf = directory / "nginx.conf"
    conf.write_text(nginx_conf(http_config, directory))
    return conf


def _argv(conf: Path) -> list[str]:
    # -e: the error log before the config is read, which would otherwise be /var/log/nginx's.
    directory = conf.parent
    return [
        nginx_binary(),
        "-p",
        str(directory),
        "-c",
        str(conf),
        "-e",
        str(directory / "error.log"),
    ]


def nginx_test(http_config: str, directory: Path) -> str:
    """Run ``nginx -t`` on ``http_config`` (as ``nginx_conf`` wraps it); return nginx's
    report, or fail with it when nginx refuses the config."""
    conf = _write_conf(http_config, directory)
    result = subprocess.run(
        [*_argv(conf), "-t"], capture_output=True, text=True, timeout=30, check=False
    )
    report = result.stdout + result.stderr
    assert result.returncode == 0, f"nginx refuses the config:\n{report}\n{conf.read_text()}"
    return report


@contextmanager
def own_nginx(http_config: str, directory: Path) -> Iterator[FrontEnd]:
    """Run nginx with ``http_config`` (``@PORT@`` replaced by a free port) until the block
    ends; files go under ``directory``. A config nginx refuses fails with its report."""
    port = free_port()
    http_config = http_config.replace(PORT, str(port))
    nginx_test(http_config, directory)
    server = FrontEnd("nginx", port, directory)
    # SIGTERM: nginx's fast shutdown; its workers go with the master.
    with process_group(_argv(directory / "nginx.conf")):
        wait_until_listening(port, "nginx", server.logs, timeout=30)
        yield server

#!/usr/bin/env bash
# Install the Debian packages the test suite needs, when they are missing.
# mysqlclient (the `mysql` extra) compiles against MariaDB's client headers.
set -euo pipefail

missing=()
pkg-config --exists libmariadb 2>/dev/null || pkg-config --exists mysqlclient 2>/dev/null \
    || missing+=(libmariadb-dev pkg-config)
# Tests start their own memcached and Redis on free ports (never touching shared ones).
command -v memcached >/dev/null || [[ -x /usr/bin/memcached ]] || missing+=(memcached)
command -v redis-server >/dev/null || [[ -x /usr/bin/redis-server ]] || missing+=(redis-server)
# The TLS cache tests make a throw-away certificate authority with it.
command -v openssl >/dev/null || missing+=(openssl)

# The multi-instance test balances over nginx (its own instance on a free port); the server
# benchmark loads the servers with wrk.
command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
command -v wrk >/dev/null || missing+=(wrk)
# The Apache deployment tests run their own Apache on a free port: mod_xsendfile for protected
# files, and apache2-dev's apxs so pip can build mod_wsgi (the `test` extra) for the
# virtualenv's Python (Debian's libapache2-mod-wsgi-py3 is built for Debian's Python).
command -v apache2 >/dev/null || [[ -x /usr/sbin/apache2 ]] || missing+=(apache2)
command -v apxs >/dev/null || [[ -x /usr/bin/apxs ]] || missing+=(apache2-dev)
[[ -f /usr/lib/apache2/modules/mod_xsendfile.so ]] || missing+=(libapache2-mod-xsendfile)

# Azurite (the Azure Storage emulator the storage probe tests run) is an npm package.
command -v npm >/dev/null || missing+=(nodejs npm)
# The browser snippet's tests load pages in headless Chromium, driven through chromedriver
# (selenium, the `test` extra), and check that the Application Insights JavaScript SDK sends
# its page views to a local collector under a strict Content-Security-Policy.
command -v chromium >/dev/null || missing+=(chromium)
[[ -x /usr/bin/chromedriver ]] || missing+=(chromium-driver)

if ((${#missing[@]} > 0)); then
    if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
        echo "Missing system packages: ${missing[*]}. Install them (Debian: apt-get install ${missing[*]})." >&2
        exit 1
    fi
    echo "Installing system packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The npm packages of package-lock.json (Azurite; the Application Insights JavaScript SDK the
# browser tests serve locally), when missing or older than the lock.
cd "$(dirname "$0")/.."
if [[ ! -x node_modules/.bin/azurite-blob || package-lock.json -nt node_modules/.bin/azurite-blob \
    || ! -f node_modules/@microsoft/applicationinsights-web/browser/es5/ai.3.gbl.min.js ]]; then
    echo "Installing npm packages (package-lock.json)"
    npm ci --no-audit --no-fund
    touch node_modules/.bin/azurite-blob
fi

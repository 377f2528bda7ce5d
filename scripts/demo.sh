#!/usr/bin/env bash
# Prepare and serve example_project on the embedded defaults (SQLite, local files, locmem).
# Variables already in the environment win; PORT picks the port (default 8000).
set -euo pipefail
cd "$(dirname "$0")/../example_project"

export DJANGO_SETTINGS_MODULE=example_project.settings
export DJANGO_ALLOWED_HOSTS="${DJANGO_ALLOWED_HOSTS:-127.0.0.1,localhost}"
# The demo is plain HTTP on this machine: no HTTPS redirect, no secure-only cookies.
export PRODKIT_HTTPS="${PRODKIT_HTTPS:-false}"
export WEB_CONCURRENCY="${WEB_CONCURRENCY:-2}"
# Telemetry to the console: each request's item as one JSON line, what Application Insights
# would get (set APPLICATIONINSIGHTS_CONNECTION_STRING and PRODKIT_TELEMETRY_BACKEND=azure to send).
export PRODKIT_TELEMETRY_BACKEND="${PRODKIT_TELEMETRY_BACKEND:-console}"
PORT="${PORT:-8000}"

if [[ -z "${DJANGO_SECRET_KEY:-}" && ! -f .env ]]; then
    # A key of its own for this checkout, kept in .env (git-ignored) across restarts.
    key=$(python -c 'import secrets; print(secrets.token_urlsafe(50))')
    sed "s|^DJANGO_SECRET_KEY=.*|DJANGO_SECRET_KEY=${key}|" .env.example > .env
    echo "Wrote example_project/.env with a new DJANGO_SECRET_KEY."
fi

python manage.py migrate --noinput
python manage.py collectstatic --noinput --verbosity 0
echo "== Deployment checklist (manage.py prodcheck --live) =="
python manage.py prodcheck --live --timeout 3 || true
echo
echo "Serving the example site at http://127.0.0.1:${PORT}/  (Ctrl-C stops it)"
# gunicorn with prodkit's config; the worker class follows the project (gthread: no async views).
PRODKIT_BIND="127.0.0.1:${PORT}" exec python manage.py serve

#!/usr/bin/env bash
# Install what the STAC API tests (pytest -m pgstac) need: Debian's PostgreSQL with PostGIS,
# and a virtual environment with stac-fastapi-pgstac, pypgstac and stac-api-validator
# (pinned in .ci/stac-server.txt), kept apart from Pantau's own environment.
# Idempotent and quiet; the apt part needs root (CI runs as root).
set -euo pipefail
cd "$(dirname "$0")/.."

pg_ok() { compgen -G "/usr/share/postgresql/*/extension/postgis.control" >/dev/null \
          && compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null; }
if pg_ok; then
    echo "install-stac-server: PostgreSQL with PostGIS already installed"
else
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # postgresql-postgis pulls the PostGIS of Debian's default PostgreSQL (15 on bookworm)
    apt-get install -y -qq --no-install-recommends postgresql postgresql-postgis >/dev/null
fi

VENV="${PANTAU_STAC_SERVER_VENV:-$HOME/.cache/pantau/stac-server-venv}"
STAMP="$VENV/.requirements"
if [ -f "$STAMP" ] && cmp -s "$STAMP" .ci/stac-server.txt; then
    echo "install-stac-server: $VENV up to date"
else
    python -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check -r .ci/stac-server.txt
    cp .ci/stac-server.txt "$STAMP"
fi
"$VENV/bin/pip" list --disable-pip-version-check 2>/dev/null \
    | grep -iE '^(stac-fastapi-pgstac|pypgstac|stac-api-validator) '

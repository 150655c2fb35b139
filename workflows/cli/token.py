"""``pantau token``: issue an access token for the sensitive layers of a tile server.

The token is signed with the server's secret (``--secret-file``, else the tile server's
settings ``PANTAU_TILES_TOKEN_SECRET`` / ``PANTAU_TILES_TOKEN_SECRET_FILE``), limited to a
province or kab/kota (``--scope 34``, ``--scope 3404``; ``--scope all`` for every region) and
expires (``--expires 30d``). Only the token is printed on stdout, so it can be captured; what
it allows goes to stderr. The tile server's token module (:mod:`tiles.access`, standard
library only) is imported when the command runs.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from workflows.errors import WorkflowError

__all__ = ["MAX_DAYS", "parse_expiry", "register", "run"]

#: Longest validity of a token, in days.
MAX_DAYS: Final = 366
_UNITS: Final = {"m": 60, "h": 3600, "d": 86400}
_DURATION_RE: Final = re.compile(r"^(\d{1,6})([mhd])$")


def register(subparsers: Any) -> None:
    """Add the ``token`` sub-command."""
    p = subparsers.add_parser(
        "token",
        help="issue an access token for sensitive layers (scoped to a region, expiring)",
        description=(
            "Print a signed access token for the tile server's sensitive layers and fields. "
            "Put it in tile URLs as ?token=... (map clients) or send it as "
            "'Authorization: Bearer ...'. The secret must be the tile server's."
        ),
    )
    p.add_argument(
        "--scope",
        required=True,
        metavar="CODE",
        help="Kemendagri province (34) or kab/kota (3404 or 34.04) code the token may read; "
        "'all' for every region",
    )
    p.add_argument(
        "--expires",
        required=True,
        metavar="WHEN",
        help=f"validity: 90m, 12h, 30d (at most {MAX_DAYS}d) or a date YYYY-MM-DD (UTC)",
    )
    p.add_argument(
        "--secret-file",
        type=Path,
        metavar="FILE",
        help="file holding the secret (first non-empty line); default: the tile server's "
        "PANTAU_TILES_TOKEN_SECRET or PANTAU_TILES_TOKEN_SECRET_FILE",
    )
    p.set_defaults(func=run)


def parse_expiry(text: str, *, now: float | None = None) -> int:
    """Unix seconds of ``--expires`` (a duration from now or a UTC date).

    Raises:
        WorkflowError: not a duration or date, in the past, or more than :data:`MAX_DAYS` on.
    """
    start = time.time() if now is None else now
    value = text.strip().lower()
    match = _DURATION_RE.match(value)
    if match:
        expires = start + int(match[1]) * _UNITS[match[2]]
    else:
        try:
            day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
        except ValueError:
            raise WorkflowError(
                f"--expires {text!r}: expected a duration such as 90m, 12h or 30d, or a date "
                "YYYY-MM-DD"
            ) from None
        expires = day.timestamp()
    if expires <= start:
        raise WorkflowError(f"--expires {text!r}: must lie in the future")
    if expires - start > MAX_DAYS * 86400:
        raise WorkflowError(f"--expires {text!r}: at most {MAX_DAYS} days from now")
    return int(expires)


def _scope(text: str) -> tuple[str, str]:
    """The scope's digits and a description (its Kemendagri 2025 name when known)."""
    from geo.codes import kemendagri_names
    from geo.errors import GeoError
    from tiles.access import normalize_scope

    try:
        scope = normalize_scope(text)
    except ValueError as exc:
        raise WorkflowError(f"--{exc}") from None
    if not scope:
        return scope, "all regions"
    level = "provinsi" if len(scope) == 2 else "kabkota"
    try:
        names = kemendagri_names(level)
    except GeoError:  # no master list installed: the format check is all there is
        return scope, scope
    if scope not in names:
        what = "province" if level == "provinsi" else "kab/kota"
        raise WorkflowError(
            f"--scope {text!r}: no {what} has this code in the Kemendagri 2025 list"
        )
    return scope, f"{scope} ({names[scope]})"


def _keyring(secret_file: Path | None) -> Any:
    """The signing keyring: the secret file given, else the tile server's settings."""
    from pydantic import ValidationError

    from tiles.access import Keyring, SecretError
    from tiles.settings import TokenSettings

    try:
        if secret_file is not None:
            return Keyring.load(secret_file=secret_file)
        keyring = Keyring.load(*TokenSettings().token_secrets())
    except SecretError as exc:
        raise WorkflowError(str(exc)) from None
    except ValidationError as exc:
        raise WorkflowError(f"invalid PANTAU_TILES_TOKEN_* setting: {exc}") from None
    if keyring is None:
        raise WorkflowError(
            "no token secret: pass --secret-file FILE or set PANTAU_TILES_TOKEN_SECRET or "
            "PANTAU_TILES_TOKEN_SECRET_FILE (the tile server must use the same secret)"
        )
    return keyring


def run(args: argparse.Namespace) -> int:
    """Print a token on stdout and what it allows on stderr; 0 on success, 2 on bad input."""
    from tiles.access import issue_token

    scope, described = _scope(args.scope)
    expires = parse_expiry(args.expires)
    keyring = _keyring(args.secret_file)
    token = issue_token(keyring, scope=scope, expires=expires)
    until = datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(token)
    print(
        f"pantau token: scope {described}, expires {until}, key {keyring.key_id}; "
        "add ?token=<token> to tile and TileJSON URLs, or send 'Authorization: Bearer <token>'",
        file=sys.stderr,
    )
    return 0

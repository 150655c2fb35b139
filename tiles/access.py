"""Access tokens for sensitive layers: signed, expiring, scoped to a region.

A token is ``<payload>.<signature>``, both base64url without padding (URL-safe, so a map
client can put it in a tile URL as ``?token=``). The payload is compact JSON::

    {"v": 1, "s": "3404", "e": 1767225600, "k": "3f9a1c2b"}

``v`` the token version, ``s`` the scope (a Kemendagri province ``34`` or kab/kota ``3404``
code; ``""`` for every region), ``e`` the expiry in unix seconds, ``k`` the id of the key that
signed it. The signature is HMAC-SHA256 of the payload text with the server's secret, compared
in constant time. Several secrets may be configured (the first signs, all verify), so a secret
can be rotated; the key id picks the one to check against.

This module is pure (standard library only): ``pantau token`` issues tokens with it and the
tile server verifies them; neither needs the other's dependencies.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

__all__ = [
    "MAX_TOKEN_LENGTH",
    "MIN_SECRET_LENGTH",
    "TOKEN_VERSION",
    "ExpiredToken",
    "Grant",
    "Keyring",
    "MalformedToken",
    "MissingToken",
    "SecretError",
    "TamperedToken",
    "TokenError",
    "UnknownKey",
    "issue_token",
    "normalize_scope",
    "read_secret_file",
]

TOKEN_VERSION: Final = 1
#: Longest token accepted (a real one has about 100 characters).
MAX_TOKEN_LENGTH: Final = 512
#: Shortest secret accepted, in characters.
MIN_SECRET_LENGTH: Final = 32
_SCOPE_RE: Final = re.compile(r"^(\d{2}|\d{4})$")
_TOKEN_RE: Final = re.compile(r"^[A-Za-z0-9_-]{8,400}\.[A-Za-z0-9_-]{43}$")
_HOW_TO_SECRET: Final = (
    'make one with: python -c "import secrets; print(secrets.token_urlsafe(32))"'
)


class TokenError(Exception):
    """The access token is missing, malformed, expired or not signed by this server."""

    parameter: str = "token"

    def __init__(self, message: str = "") -> None:
        super().__init__(message or (self.__doc__ or "").strip())


class MissingToken(TokenError):
    """This needs an access token: ``?token=`` or ``Authorization: Bearer``."""


class MalformedToken(TokenError):
    """The token is not a Pantau access token."""


class TamperedToken(TokenError):
    """The token's signature does not match its content: it was altered."""


class UnknownKey(TokenError):
    """The token was signed with a secret this server does not have."""


class ExpiredToken(TokenError):
    """The token has expired."""


class SecretError(ValueError):
    """The token secret is missing, too short or unreadable."""


def normalize_scope(scope: str | None) -> str:
    """``"34"``, ``"34.04"`` or ``"3404"`` -> digits; ``None``, ``""`` or ``"all"`` -> ``""``.

    Raises:
        ValueError: not a 2-digit province or 4-digit kab/kota code.
    """
    text = (scope or "").strip()
    if text.lower() in ("", "all", "*"):
        return ""
    digits = text.replace(".", "")
    if not _SCOPE_RE.match(digits) or (text != digits and not re.fullmatch(r"\d{2}\.\d{2}", text)):
        raise ValueError(
            f"scope {text!r}: expected a Kemendagri province code (34) or kab/kota code "
            "(3404 or 34.04), or 'all'"
        )
    return digits


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _key_id(secret: bytes) -> str:
    """A short public id of a secret (an HMAC of a fixed label: it reveals nothing of it)."""
    return hmac.new(secret, b"pantau-key-id", hashlib.sha256).hexdigest()[:8]


def _check_secret(secret: str) -> bytes:
    if len(secret) < MIN_SECRET_LENGTH:
        raise SecretError(
            f"the token secret must have at least {MIN_SECRET_LENGTH} characters; " + _HOW_TO_SECRET
        )
    return secret.encode("utf-8")


def read_secret_file(path: Path) -> list[str]:
    """The secrets of a file, one per non-empty line (the first signs, all verify)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SecretError(f"cannot read the token secret file {path} ({exc})") from exc
    secrets = [line.strip() for line in text.splitlines() if line.strip()]
    if not secrets:
        raise SecretError(f"the token secret file {path} is empty; " + _HOW_TO_SECRET)
    return secrets


@dataclass(frozen=True)
class Grant:
    """What a valid token allows: every region under ``scope`` (all when empty), until
    ``expires`` (unix seconds)."""

    scope: str
    expires: int
    key_id: str = ""

    def covers(self, kode: str) -> bool:
        """True when the region or village ``kode`` lies inside the scope."""
        return kode.startswith(self.scope)

    def overlaps(self, kode: str) -> bool:
        """True when ``kode`` and the scope share any village (one contains the other)."""
        return kode.startswith(self.scope) or self.scope.startswith(kode)

    @property
    def label(self) -> str:
        """The scope for messages: its code, or ``all regions``."""
        return self.scope or "all regions"


class Keyring:
    """The secrets of a server: the first signs, every one verifies (rotation)."""

    def __init__(self, secrets: Sequence[str]) -> None:
        if not secrets:
            raise SecretError("no token secret given; " + _HOW_TO_SECRET)
        self._keys = [(_key_id(k), k) for k in (_check_secret(s) for s in secrets)]

    @classmethod
    def load(cls, secret: str | None = None, secret_file: Path | None = None) -> Keyring | None:
        """The keyring of a secret and/or a secret file (file secrets after ``secret``);
        None when neither is set."""
        secrets = [secret] if secret else []
        if secret_file is not None:
            secrets += read_secret_file(secret_file)
        return cls(secrets) if secrets else None

    @property
    def key_id(self) -> str:
        """The id of the signing key."""
        return self._keys[0][0]

    def sign(self, payload: str, key_id: str | None = None) -> str:
        """Signature (base64url) of a payload with the key ``key_id`` (default the first)."""
        key = next((k for kid, k in self._keys if kid == (key_id or self.key_id)), None)
        if key is None:
            raise UnknownKey()
        return _b64(hmac.new(key, payload.encode("ascii"), hashlib.sha256).digest())

    def verify(self, token: str, *, now: float | None = None) -> Grant:
        """The grant of a token signed by one of these keys.

        Raises:
            MalformedToken, TamperedToken, UnknownKey, ExpiredToken: why it is refused.
        """
        token = token.strip()
        if len(token) > MAX_TOKEN_LENGTH or not _TOKEN_RE.match(token):
            raise MalformedToken("token: not a Pantau access token (issue one with `pantau token`)")
        payload, _, signature = token.partition(".")
        claims = _claims(payload)
        kid = claims.get("k")
        # the key id picks the secret; a token without one is tried against every secret
        candidates = [(i, k) for i, k in self._keys if not isinstance(kid, str) or i == kid]
        if not candidates:
            raise UnknownKey(
                "token: signed with a secret this server does not have (another server's, or "
                "a rotated-out one); ask for a new token"
            )
        expected = [
            _b64(hmac.new(k, payload.encode("ascii"), hashlib.sha256).digest())
            for _, k in candidates
        ]
        if not any(hmac.compare_digest(e, signature) for e in expected):
            raise TamperedToken("token: the signature does not match: the token was altered")
        grant = _grant(claims)
        if (time.time() if now is None else now) >= grant.expires:
            stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(grant.expires))
            raise ExpiredToken(f"token: expired at {stamp}; ask for a new token")
        return grant


def _claims(payload: str) -> dict:
    """The decoded (not yet trusted) payload."""
    try:
        claims = json.loads(_unb64(payload))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        claims = None
    if not isinstance(claims, dict):
        raise MalformedToken("token: not a Pantau access token (issue one with `pantau token`)")
    return claims


def _grant(claims: dict) -> Grant:
    """The grant of signed claims; claims of another version or shape are refused."""
    version, scope, expires = claims.get("v"), claims.get("s"), claims.get("e")
    if version != TOKEN_VERSION:
        raise MalformedToken(
            f"token: version {version!r} is not understood (this server reads version "
            f"{TOKEN_VERSION}); ask for a new token"
        )
    if not isinstance(scope, str) or (scope and not _SCOPE_RE.match(scope)):
        raise MalformedToken("token: its scope is not a region code")
    if isinstance(expires, bool) or not isinstance(expires, int):
        raise MalformedToken("token: its expiry is not a time")
    return Grant(scope=scope, expires=expires, key_id=str(claims.get("k", "")))


def issue_token(keyring: Keyring, *, scope: str | None, expires: int) -> str:
    """A token for ``scope`` (see :func:`normalize_scope`) valid until ``expires`` (unix s)."""
    claims = {"v": TOKEN_VERSION, "s": normalize_scope(scope), "e": int(expires)}
    claims["k"] = keyring.key_id
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode("ascii"))
    return f"{payload}.{keyring.sign(payload)}"

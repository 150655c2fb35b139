"""Sensitive layers on the tile server: which they are, who may read them, what others see.

An indicator table is sensitive when :func:`geo.privacy.read_privacy` says so (it was added
with ``pantau indicators add --sensitive``); every column of it is sensitive, and so is every
layer drawing one (a choropleth, a bivariate layer with it as x or y, ``vector.villages``
with it as ``column``). Reading one needs an access token (:mod:`tiles.access`) given as
``?token=`` (map clients cannot add headers) or ``Authorization: Bearer``:

* layer endpoints (tiles, TileJSON, legend, table) answer 401 without a valid token, and 404
  when the server has no token secret (then sensitive layers are not served at all);
* listings (``/layers``, WMTS) show sensitive layers only to a token holder;
* ``/villages/{kode}`` and ``/regions/{kode}`` keep their public fields for everyone and add
  the sensitive ones only for a token whose scope covers the place (403 for one that does
  not: a token is checked wherever sensitive data could be served, never silently dropped);
* a scoped token sees only the villages and regions inside its scope: tiles draw only them,
  classes and legend counts are computed from them, tables hold only their rows.

Answers that hold sensitive data carry ``Cache-Control: private, no-store`` and never enter
the tile cache; sensitive layers take no client styling (``breaks``, ``classification``,
``n_classes``): their classes are the server's.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final

import numpy as np
import pandas as pd
from fastapi import Query
from starlette.requests import Request
from starlette.responses import Response

from geo.indicators.store import stored_tables
from geo.privacy import FLAG_COLUMN, read_privacy
from tiles.access import MAX_TOKEN_LENGTH, Grant, Keyring, MalformedToken, MissingToken, TokenError
from tiles.dependencies import CLASS_QUERY, app_context
from tiles.errors import InvalidParameter, LayerNotFound, OutOfScope

if TYPE_CHECKING:
    from tiles.catalogue import Catalogue, Layer

__all__ = [
    "PRIVATE",
    "Access",
    "find_sensitive",
    "flag_column",
    "flag_values",
    "indicator_fields",
    "layer_grant",
    "mark",
    "place_grant",
    "private",
    "refuse_client_classes",
    "request_access",
    "scope_mask",
]

logger = logging.getLogger(__name__)

#: Cache-Control of every answer holding sensitive data (or a token).
PRIVATE: Final = "private, no-store"
_NO_SECRET: Final = (
    "sensitive layers are not served: the server has no token secret "
    "(PANTAU_TILES_TOKEN_SECRET or PANTAU_TILES_TOKEN_SECRET_FILE)"
)
_BEARER: Final = "bearer "


def find_sensitive(root: Path) -> frozenset[str]:
    """Names of the sensitive indicator tables of a products directory."""
    found = set()
    for name, path in stored_tables(root):
        try:
            if read_privacy(path) is not None:
                found.add(name)
        except Exception:  # cannot tell: treat as sensitive, never serve it by mistake
            logger.error("cannot read the privacy of indicator table %s", name, exc_info=True)
            found.add(name)
    return frozenset(found)


def flag_values(values: pd.Series | None, n: int) -> np.ndarray:
    """A ``suppressed`` flag column as booleans (stored as bool, read back as text)."""
    if values is None:
        return np.zeros(n, dtype=bool)
    text = values.astype("string").str.strip().str.lower()
    return text.isin(("true", "1", "1.0")).fillna(False).to_numpy(dtype=bool)


def flag_column(table: str) -> str:
    """The joined name of a sensitive table's flag column (``<table>.suppressed``)."""
    return f"{table}.{FLAG_COLUMN}"


def scope_mask(kodes: pd.Index, scope: str) -> np.ndarray | None:
    """Which codes lie inside ``scope`` (None: all, no scope)."""
    if not scope:
        return None
    return np.asarray(kodes.astype(str).str.startswith(scope), dtype=bool)


class Access:
    """The token a request presents (query or header), verified when first needed."""

    def __init__(
        self, keyring: Keyring | None, token: str | None, *, in_query: bool = False
    ) -> None:
        self.keyring = keyring
        self.token = token
        #: the token came as ``?token=`` (so it belongs in the URLs handed back)
        self.in_query = in_query and token is not None
        self._grant: Grant | None = None

    @classmethod
    def of(cls, request: Request) -> Access:
        """The access of a request: ``?token=`` or ``Authorization: Bearer <token>`` (other
        schemes, e.g. a proxy's Basic credentials, are not ours and are ignored)."""
        query = request.query_params.get("token")
        header = request.headers.get("authorization") or ""
        bearer = None
        if header[: len(_BEARER)].lower() == _BEARER:
            bearer = header[len(_BEARER) :].strip()
        if query is not None and bearer is not None and query != bearer:
            raise MalformedToken("token: two different tokens (query and header); give one")
        token = query if query is not None else bearer
        return cls(app_context(request).keyring, token, in_query=query is not None)

    @property
    def presented(self) -> bool:
        """True when the request carries a token (valid or not)."""
        return self.token is not None

    def grant(self) -> Grant | None:
        """The token's grant; None without a token.

        Raises:
            TokenError: a token that is malformed, altered, expired or of another server,
                or any token when the server has no secret (401).
        """
        if self.token is None:
            return None
        if self._grant is None:
            if self.keyring is None:
                raise TokenError(f"token: not accepted here: {_NO_SECRET}")
            self._grant = self.keyring.verify(self.token)
        return self._grant

    def require(self) -> Grant:
        """The grant of a valid token (401 without one)."""
        grant = self.grant()
        if grant is None:
            raise MissingToken(
                "token: this layer needs an access token: add ?token=... to the URL or send "
                "'Authorization: Bearer ...' (tokens come from `pantau token`)"
            )
        return grant


def request_access(
    request: Request,
    token: Annotated[
        str | None,
        Query(
            max_length=MAX_TOKEN_LENGTH,
            description="access token for sensitive layers and fields (from `pantau token`); "
            "or send it as 'Authorization: Bearer <token>'",
        ),
    ] = None,
) -> Access:
    """FastAPI dependency: the request's :class:`Access`. ``token`` is declared here for the
    API document and its length cap; :meth:`Access.of` reads it with the header."""
    return Access.of(request)


def layer_grant(
    access: Access, cat: Catalogue, layer: Layer, *, column: str | None = None
) -> Grant | None:
    """None for a public layer; the grant for a sensitive one.

    Raises:
        LayerNotFound: a sensitive layer on a server without a token secret (404).
        TokenError: no valid token (401).
    """
    if not cat.is_sensitive(layer, column):
        return None
    if access.keyring is None:
        name = "layer_id" if cat.is_sensitive(layer) else "column"
        raise LayerNotFound(f"{name}: {_NO_SECRET}", parameter=name)
    return access.require()


def refuse_client_classes(request: Request) -> None:
    """Sensitive layers are drawn with the server's classes only (400 naming the option)."""
    for name in sorted(CLASS_QUERY):
        if name in request.query_params:
            raise InvalidParameter(
                f"{name}: a sensitive layer is drawn with the server's classes only",
                parameter=name,
            )


def place_grant(access: Access, cat: Catalogue, kode: str) -> Grant | None:
    """The grant to read the sensitive fields of a village or region, or None (public fields
    only). A presented token must be valid (401) and cover the place (403)."""
    if not cat.sensitive or not access.presented:
        return None
    grant = access.grant()
    assert grant is not None
    if not grant.covers(kode):
        raise OutOfScope(
            f"token: this token covers {grant.label} only; {kode} is outside it",
            parameter="token",
        )
    return grant


def indicator_fields(
    indicators: dict[str, Any], sensitive: Iterable[str], *, granted: bool
) -> dict[str, Any]:
    """The indicator fields of a place a reader may see: all with a grant (the suppression
    flags as booleans), else the public ones."""
    hidden = set(sensitive)
    if not granted:
        return {k: v for k, v in indicators.items() if k.partition(".")[0] not in hidden}
    flags = {flag_column(table) for table in hidden}
    return {
        k: bool(flag_values(pd.Series([v]), 1)[0]) if k in flags else v
        for k, v in indicators.items()
    }


def private(response: Response) -> None:
    """Mark an answer holding sensitive data: never stored by a shared cache."""
    response.headers["Cache-Control"] = PRIVATE
    response.headers["Vary"] = "Authorization"


def mark(response: Response, cat: Catalogue, grant: Grant | None) -> None:
    """Headers of an answer shaped by the token: ``private, no-store`` when it holds sensitive
    data, else ``Vary: Authorization`` where the products have any (so a shared cache never
    answers a token holder with an anonymous copy)."""
    if grant is not None:
        private(response)
    elif cat.sensitive:
        response.headers["Vary"] = "Authorization"

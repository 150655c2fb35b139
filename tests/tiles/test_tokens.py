"""Access tokens (tiles/access.py): signed, expiring, scoped; each refusal has its reason."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from tiles.access import (
    MAX_TOKEN_LENGTH,
    ExpiredToken,
    Grant,
    Keyring,
    MalformedToken,
    SecretError,
    TamperedToken,
    UnknownKey,
    issue_token,
    normalize_scope,
)

SECRET = "a" * 32 + "-token-test-secret"
NOW = 1_800_000_000


def _keys(*secrets: str) -> Keyring:
    return Keyring(list(secrets or (SECRET,)))


def _claims(token: str) -> dict:
    payload = token.partition(".")[0]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _encode(claims: dict) -> str:
    text = json.dumps(claims, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(text).rstrip(b"=").decode()


@pytest.mark.parametrize("scope", ["", "34", "3404", "34.04", "all"])
def test_a_token_round_trips(scope: str) -> None:
    token = issue_token(_keys(), scope=scope, expires=NOW + 60)
    assert len(token) < 150 and all(c.isalnum() or c in "-_." for c in token)  # URL-safe
    grant = _keys().verify(token, now=NOW)
    assert grant == Grant(normalize_scope(scope), NOW + 60, _keys().key_id)


def test_the_payload_holds_version_scope_expiry_and_key() -> None:
    claims = _claims(issue_token(_keys(), scope="3404", expires=NOW))
    assert claims == {"v": 1, "s": "3404", "e": NOW, "k": _keys().key_id}


def test_an_expired_token_is_refused() -> None:
    token = issue_token(_keys(), scope="34", expires=NOW)
    assert _keys().verify(token, now=NOW - 1).scope == "34"
    with pytest.raises(ExpiredToken, match="expired at 2027-01-15"):
        _keys().verify(token, now=NOW)


@pytest.mark.parametrize("change", [{"s": ""}, {"s": "35"}, {"e": NOW + 10**8}, {"v": 2}])
def test_a_changed_payload_is_refused(change: dict) -> None:
    token = issue_token(_keys(), scope="3404", expires=NOW + 60)
    signature = token.partition(".")[2]
    forged = f"{_encode({**_claims(token), **change})}.{signature}"
    with pytest.raises(TamperedToken):
        _keys().verify(forged, now=NOW)


def test_a_changed_signature_is_refused() -> None:
    token = issue_token(_keys(), scope="3404", expires=NOW + 60)
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    with pytest.raises(TamperedToken):
        _keys().verify(flipped, now=NOW)


def test_another_servers_token_is_refused() -> None:
    token = issue_token(_keys("b" * 40), scope="", expires=NOW + 60)
    with pytest.raises(UnknownKey, match="secret this server does not have"):
        _keys().verify(token, now=NOW)
    # without a key id the signature decides
    claims = {k: v for k, v in _claims(token).items() if k != "k"}
    with pytest.raises(TamperedToken):
        _keys().verify(f"{_encode(claims)}.{token.partition('.')[2]}", now=NOW)


def test_a_rotated_secret_still_verifies() -> None:
    old = issue_token(_keys("o" * 40), scope="34", expires=NOW + 60)
    rotated = _keys("n" * 40, "o" * 40)
    assert rotated.verify(old, now=NOW).scope == "34"
    assert _claims(issue_token(rotated, scope="34", expires=NOW + 60))["k"] == rotated.key_id
    assert rotated.key_id == _keys("n" * 40).key_id  # the first secret signs


@pytest.mark.parametrize(
    "token",
    ["", "abc", "not-a-token", "a.b.c", "!!!!!!!!." + "A" * 43, "x" * (MAX_TOKEN_LENGTH + 1),
     _encode({"v": 1}) + "." + "A" * 43, "bm90IGpzb24." + "A" * 43],
)  # fmt: skip
def test_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises((MalformedToken, TamperedToken)):
        _keys().verify(token, now=NOW)


@pytest.mark.parametrize(("claims", "match"), [
    ({"v": 1, "s": "3", "e": NOW + 60}, "scope"),
    ({"v": 1, "s": "3404", "e": "tomorrow"}, "expiry"),
    ({"v": 1, "s": "3404", "e": True}, "expiry"),
    ({"v": 9, "s": "3404", "e": NOW + 60}, "version 9"),
])  # fmt: skip
def test_signed_claims_of_another_shape_are_refused(claims: dict, match: str) -> None:
    keys = _keys()
    payload = _encode({**claims, "k": keys.key_id})
    with pytest.raises(MalformedToken, match=match):
        keys.verify(f"{payload}.{keys.sign(payload)}", now=NOW)


@pytest.mark.parametrize(("text", "scope"), [
    ("34", "34"), ("3404", "3404"), ("34.04", "3404"), (" all ", ""), (None, ""), ("*", ""),
])  # fmt: skip
def test_scopes_are_normalised(text: str | None, scope: str) -> None:
    assert normalize_scope(text) == scope


@pytest.mark.parametrize("text", ["3", "340", "340407", "3404072001", "3.404", "34.0.4", "ab"])
def test_other_scopes_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="province code"):
        normalize_scope(text)


def test_scopes_cover_their_regions() -> None:
    grant = Grant("3404", NOW)
    assert grant.covers("3404062001") and grant.covers("340406") and grant.covers("3404")
    assert not grant.covers("34") and not grant.covers("3471031001")
    assert grant.overlaps("34") and grant.overlaps("340406") and not grant.overlaps("3471")
    assert Grant("", NOW).covers("3471031001")


def test_short_and_missing_secrets_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SecretError, match="at least 32"):
        Keyring(["short"])
    with pytest.raises(SecretError, match="no token secret"):
        Keyring([])
    assert Keyring.load(None, None) is None
    empty = tmp_path / "empty"
    empty.write_text("\n\n")
    with pytest.raises(SecretError, match="is empty"):
        Keyring.load(secret_file=empty)
    with pytest.raises(SecretError, match="cannot read"):
        Keyring.load(secret_file=tmp_path / "missing")
    rotation = tmp_path / "secrets"
    rotation.write_text(f"{'n' * 40}\n\n{'o' * 40}\n")
    assert Keyring.load(secret_file=rotation).key_id == _keys("n" * 40).key_id

"""``pantau token``: issues tokens the tile server accepts; bad input is one message, exit 2."""

from __future__ import annotations

import shutil
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tiles.access import Keyring
from workflows.cli import main
from workflows.cli.token import MAX_DAYS, parse_expiry

SECRET = "cli-test-secret-" + "0123456789" * 3


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret"
    path.write_text(SECRET + "\n")
    return path


@pytest.fixture(autouse=True)
def no_secret_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PANTAU_TILES_TOKEN_SECRET", raising=False)
    monkeypatch.delenv("PANTAU_TILES_TOKEN_SECRET_FILE", raising=False)


def _issue(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["token", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_prints_a_token_the_server_accepts(
    secret_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = time.time()
    code, out, err = _issue(capsys, "--scope", "34.04", "--expires", "30d",
                            "--secret-file", str(secret_file))  # fmt: skip
    assert code == 0
    token = out.strip()
    assert out == token + "\n"  # stdout holds the token only
    grant = Keyring([SECRET]).verify(token)
    assert grant.scope == "3404"
    assert before + 30 * 86400 - 5 <= grant.expires <= time.time() + 30 * 86400
    assert "scope 3404 (Kabupaten Sleman)" in err and "?token=" in err


@pytest.mark.parametrize(
    "variable", ["PANTAU_TILES_TOKEN_SECRET", "PANTAU_TILES_TOKEN_SECRET_FILE"]
)
def test_the_secret_comes_from_the_servers_settings(
    variable: str, secret_file: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    value = SECRET if variable.endswith("SECRET") else str(secret_file)
    monkeypatch.setenv(variable, value)
    code, out, err = _issue(capsys, "--scope", "all", "--expires", "12h")
    assert code == 0, err
    assert Keyring([SECRET]).verify(out.strip()).scope == ""
    assert "scope all regions" in err


@pytest.mark.parametrize(("argv", "message"), [
    (["--scope", "3.404"], "expected a Kemendagri province code (34) or kab/kota code"),
    (["--scope", "340407"], "expected a Kemendagri province code"),
    (["--scope", "3499"], "no kab/kota has this code in the Kemendagri 2025 list"),
    (["--scope", "99"], "no province has this code"),
    (["--expires", "tomorrow"], "expected a duration such as 90m, 12h or 30d"),
    (["--expires", "0m"], "must lie in the future"),
    (["--expires", "2001-01-01"], "must lie in the future"),
    (["--expires", f"{MAX_DAYS + 1}d"], f"at most {MAX_DAYS} days"),
])  # fmt: skip
def test_bad_input_is_one_message_and_exit_2(
    argv: list[str], message: str, secret_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    options = {"--scope": "3404", "--expires": "30d", argv[0]: argv[1]}
    flat = [x for pair in options.items() for x in pair]
    code, out, err = _issue(capsys, *flat, "--secret-file", str(secret_file))
    assert code == 2 and out == ""
    assert err.startswith("pantau token: error: ") and message in err
    assert "Traceback" not in err


def test_without_a_secret_it_says_where_to_set_one(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _issue(capsys, "--scope", "34", "--expires", "1h")
    assert code == 2
    assert "PANTAU_TILES_TOKEN_SECRET" in err and "--secret-file" in err


def test_a_short_secret_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    short = tmp_path / "short"
    short.write_text("hunter2\n")
    code, _, err = _issue(capsys, "--scope", "34", "--expires", "1h", "--secret-file", str(short))
    assert code == 2 and "at least 32 characters" in err


def test_scope_and_expiry_are_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["token", "--expires", "1h"])
    assert exit_.value.code == 2
    assert "--scope" in capsys.readouterr().err


def test_expiry_forms() -> None:
    now = 1_800_000_000.0
    assert parse_expiry("90m", now=now) == now + 5400
    assert parse_expiry("12H", now=now) == now + 12 * 3600
    midnight = datetime(2027, 2, 1, tzinfo=UTC).timestamp()
    assert parse_expiry("2027-02-01", now=now) == midnight


def test_the_installed_command(secret_file: Path) -> None:
    exe = shutil.which("pantau") or pytest.fail("the `pantau` console script is not installed")
    done = subprocess.run(
        [exe, "token", "--scope", "34", "--expires", "1d", "--secret-file", str(secret_file)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert Keyring([SECRET]).verify(done.stdout.strip()).scope == "34"

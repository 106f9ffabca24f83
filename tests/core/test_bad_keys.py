"""Keys that cannot sign stop ``run --live`` before anything is sent: exit 2 and one line
naming the variable, as ``check-config`` says it. And ``backup`` to a folder that does
not exist is one line too."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.core.builders import make_database
from tests.processes import run_predarb

WALLET_KEY = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
PEM = serialization.Encoding.PEM


def _rsa() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_key() -> bytes:
    return _rsa().public_key().public_bytes(PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def encrypted_key() -> bytes:
    return _rsa().private_bytes(
        PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    )


def ec_key() -> bytes:
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def live_env(tmp_path: Path, pem: bytes, wallet_key: str = WALLET_KEY) -> dict[str, str]:
    key_file = tmp_path / "kalshi.pem"
    key_file.write_bytes(pem)
    key_file.chmod(0o600)
    return {
        "KALSHI_API_KEY_ID": "00000000-0000-0000-0000-000000000001",
        "KALSHI_PRIVATE_KEY_PATH": str(key_file),
        "POLY_PRIVATE_KEY": wallet_key,
        # Nothing listens here: a key that got as far as a request would fail differently.
        "KALSHI_BASE_URL": "http://127.0.0.1:9/trade-api/v2",
        "POLY_CLOB_URL": "http://127.0.0.1:9",
        "POLY_GAMMA_URL": "http://127.0.0.1:9",
        "PREDARB_DB_PATH": str(tmp_path / "live.sqlite3"),
    }


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.mark.parametrize(
    ("make_key", "reason"),
    [
        (public_key, "private key is not a readable unencrypted PEM"),
        (encrypted_key, "private key is not a readable unencrypted PEM"),
        (ec_key, "private key is not an RSA key"),
    ],
)
def test_a_kalshi_key_that_cannot_sign_exits_2_naming_it(
    tmp_path: Path, make_key: Callable[[], bytes], reason: str
) -> None:
    out = run_predarb(["run", "--live"], live_env(tmp_path, make_key()), cwd=tmp_path)
    assert out.returncode == 2
    line = one_line(out.stderr)
    assert line == f"predarb: KALSHI_PRIVATE_KEY_PATH: cannot load the key: {reason}"
    assert not (tmp_path / "live.sqlite3").exists()


@pytest.mark.parametrize("wallet_key", ["0x1234", "0x" + "zz" * 32])
def test_a_malformed_wallet_key_exits_2_naming_it(tmp_path: Path, wallet_key: str) -> None:
    pem = _rsa().private_bytes(PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    out = run_predarb(["run", "--live"], live_env(tmp_path, pem, wallet_key), cwd=tmp_path)
    assert out.returncode == 2
    line = one_line(out.stderr)
    assert line == "predarb: POLY_PRIVATE_KEY: must be 64 hex digits (32 bytes), with or without 0x"
    assert wallet_key[2:] not in line


def test_a_backup_into_a_missing_folder_is_one_line(tmp_path: Path) -> None:
    db = tmp_path / "b.sqlite3"
    make_database(db)
    target = tmp_path / "missing" / "dir" / "x.sqlite3"
    out = run_predarb(["backup", str(target)], {"PREDARB_DB_PATH": str(db)}, cwd=tmp_path)
    assert out.returncode == 2
    assert one_line(out.stderr) == (
        f"predarb: {target}: no directory {target.parent}; create it first"
    )
    assert not target.parent.exists()

"""Fernet keys for session data: generated key file, rotation, refusals with clear messages."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest
from cryptography.fernet import Fernet, MultiFernet
from pydantic import SecretStr

from mcp_server.security import crypto
from mcp_server.security.crypto import CryptoError, decrypt_json, encrypt_json, load_fernet
from warehouse.settings import Settings


def settings_for(tmp_path: Path, keys: str | None = None) -> Settings:
    return Settings(data_dir=tmp_path / "data", fernet_keys=SecretStr(keys) if keys is not None else None)


def test_key_file_is_generated_with_mode_0600_and_reused(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    first = load_fernet(settings)
    path = settings.fernet_key_file
    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    Fernet(path.read_text().strip().encode())  # a valid key
    token = encrypt_json(first, {"a": 1})
    second = load_fernet(settings)
    assert decrypt_json(second, token) == {"a": 1}
    assert [p.name for p in path.parent.iterdir()] == ["fernet.key"]  # no temp file left behind


def test_concurrent_first_start_agrees_on_one_key(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    results: list[MultiFernet] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def start() -> None:
        try:
            barrier.wait()
            results.append(load_fernet(settings))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    token = encrypt_json(results[0], "same key")
    assert all(decrypt_json(fernet, token) == "same key" for fernet in results)


def test_loser_of_the_creation_race_reads_the_winners_file(tmp_path: Path, monkeypatch) -> None:
    settings = settings_for(tmp_path)
    winner = Fernet.generate_key()
    real_publish = crypto._publish

    def publish_after_winner(path: Path, content: bytes) -> bool:
        path.parent.mkdir(parents=True, exist_ok=True)
        crypto._write_exclusive(path, winner + b"\n")  # another process got there first
        return real_publish(path, content)

    monkeypatch.setattr(crypto, "_publish", publish_after_winner)
    fernet = load_fernet(settings)
    assert decrypt_json(fernet, Fernet(winner).encrypt(b'"theirs"')) == "theirs"


def test_group_readable_key_file_is_refused(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    load_fernet(settings)
    os.chmod(settings.fernet_key_file, 0o640)
    with pytest.raises(RuntimeError, match="chmod 600"):
        load_fernet(settings)


def test_configured_keys_win_over_the_file_and_rotate(tmp_path: Path) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    written_with_old = encrypt_json(load_fernet(settings_for(tmp_path, old)), [1, "x", None])
    rotated = load_fernet(settings_for(tmp_path, f"{new}, {old}"))
    assert decrypt_json(rotated, written_with_old) == [1, "x", None]
    # New writes use the first key: readable with the new key alone.
    assert decrypt_json(MultiFernet([Fernet(new)]), encrypt_json(rotated, {"v": 2})) == {"v": 2}
    assert not settings_for(tmp_path).fernet_key_file.exists()  # keys configured: no file generated


def test_invalid_configured_key_says_how_to_generate_one(tmp_path: Path) -> None:
    good = Fernet.generate_key().decode()
    with pytest.raises(RuntimeError) as info:
        load_fernet(settings_for(tmp_path, f"{good},not-a-key"))
    message = str(info.value)
    assert "key #2" in message
    assert "Fernet.generate_key()" in message
    assert "not-a-key" not in message and good not in message  # key material never echoed


def test_invalid_key_file_is_refused(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    settings.fernet_key_file.parent.mkdir(parents=True)
    crypto._write_exclusive(settings.fernet_key_file, b"garbage\n")
    with pytest.raises(RuntimeError, match="generate one with"):
        load_fernet(settings)


def test_token_from_an_unconfigured_key_is_a_clear_error() -> None:
    token = encrypt_json(Fernet(Fernet.generate_key()), {"secret": True})
    with pytest.raises(CryptoError, match="no longer configured"):
        decrypt_json(MultiFernet([Fernet(Fernet.generate_key())]), token)


def test_json_values_round_trip_compactly() -> None:
    fernet = MultiFernet([Fernet(Fernet.generate_key())])
    for value in [{"a": [1, 2.5, None, True]}, [], "ünïcode", 0, None, {"nested": {"deep": [{}]}}]:
        assert decrypt_json(fernet, encrypt_json(fernet, value)) == value
    assert crypto.dump_json({"a": [1, 2]}) == b'{"a":[1,2]}'
    with pytest.raises(ValueError):
        encrypt_json(fernet, float("nan"))


def test_filesystem_without_hard_links_still_gets_a_0600_key(tmp_path: Path, monkeypatch) -> None:
    def no_links(src: object, dst: object) -> None:
        raise PermissionError("hard links not supported")

    monkeypatch.setattr(crypto.os, "link", no_links)
    settings = settings_for(tmp_path)
    token = encrypt_json(load_fernet(settings), "v")
    assert stat.S_IMODE(settings.fernet_key_file.stat().st_mode) == 0o600
    assert decrypt_json(load_fernet(settings), token) == "v"
    assert [p.name for p in settings.fernet_key_file.parent.iterdir()] == ["fernet.key"]

"""Private key files readable by other users are refused (serve and reload)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from borderx.errors import ConfigError
from borderx.identity.devpki import write_private
from borderx.identity.keyfile import check_private_key_file


def key_file(tmp_path: Path, mode: int, *, uid: int | None = None) -> Path:
    key = tmp_path / "k.key"
    write_private(key, b"secret")
    key.chmod(mode)
    if uid is not None and uid != os.geteuid():
        if os.geteuid() != 0:
            pytest.skip("only root can give a file to another owner")
        os.chown(key, uid, -1)
    return key


NOT_ROOT = 65534  # nobody


@pytest.mark.parametrize("mode", [0o600, 0o400, 0o700])
def test_owner_only_keys_pass(tmp_path: Path, mode: int) -> None:
    check_private_key_file(key_file(tmp_path, mode), "[tls] key")


@pytest.mark.parametrize("mode", [0o644, 0o604, 0o602, 0o444])
@pytest.mark.parametrize("uid", [0, NOT_ROOT])
def test_world_access_is_refused_whoever_owns_the_key(tmp_path: Path, mode: int, uid: int) -> None:
    key = key_file(tmp_path, mode, uid=uid)
    with pytest.raises(ConfigError, match=rf"\[signing\] key .*k.key: mode {mode:04o} lets others read"):
        check_private_key_file(key, "[signing] key")


@pytest.mark.parametrize("mode", [0o640, 0o660, 0o620, 0o440])
def test_group_access_is_refused_unless_root_owns_the_key(tmp_path: Path, mode: int) -> None:
    key = key_file(tmp_path, mode, uid=NOT_ROOT)
    with pytest.raises(ConfigError, match=rf"mode {mode:04o} lets its group read or change"):
        check_private_key_file(key, "[tls] key")


@pytest.mark.parametrize("mode", [0o640, 0o440])
def test_a_root_owned_key_may_be_read_by_its_group(tmp_path: Path, mode: int) -> None:
    # systemd's root:borderx 0640, a Kubernetes Secret with fsGroup and defaultMode 0440
    check_private_key_file(key_file(tmp_path, mode, uid=0), "[tls] key")
    with pytest.raises(ConfigError, match="lets its group read or change"):
        check_private_key_file(key_file(tmp_path, 0o660, uid=0), "[tls] key")


def test_a_missing_key_says_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read it"):
        check_private_key_file(tmp_path / "absent.key", "[tls] key")

"""`borderx serve` keeps its secrets private: exposed keys are refused, store files are 0600."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from borderx._proto.borderx.v1 import admin_pb2, admin_pb2_grpc
from borderx.cli import EXIT_USAGE, main
from tests.conftest import channel, creds_for

AU = "AU-ABF"


@pytest.fixture
def own_pki(pki: Path, tmp_path: Path) -> Path:
    """A copy of AU-ABF's folder and the directory, so modes can be changed."""
    root = tmp_path / "pki"
    shutil.copytree(pki / AU, root / AU)
    shutil.copy(pki / "directory.json", root / "directory.json")
    return root


@pytest.mark.parametrize(("key", "section"), [("gateway.key", "[tls] key"), ("signing.key", "[signing] key")])
@pytest.mark.parametrize("mode", [0o644, 0o604])
def test_serve_refuses_a_world_readable_private_key(
    own_pki: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], key: str, section: str, mode: int
) -> None:
    (own_pki / AU / key).chmod(mode)
    store = tmp_path / "au.db"
    code = main(["serve", "--config", str(own_pki / AU / "gateway.toml"), "--listen", "127.0.0.1:0",
                 "--store", f"sqlite:///{store}"])  # fmt: skip
    assert code == EXIT_USAGE
    err = capsys.readouterr().err
    assert (
        f"{section} {own_pki / AU / key}: mode {mode:04o} lets others read or change this private key" in err
    )
    assert "chmod 600" in err


def test_serve_refuses_a_group_readable_key_not_owned_by_root(
    own_pki: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = own_pki / AU / "gateway.key"
    key.chmod(0o640)
    if os.geteuid() == 0:
        os.chown(key, 65534, -1)  # a root-owned key may be group-read (see identity/keyfile.py)
    elif key.stat().st_uid == 0:
        pytest.skip("the key is owned by root")
    code = main(["serve", "--config", str(own_pki / AU / "gateway.toml"), "--listen", "127.0.0.1:0",
                 "--store", f"sqlite:///{tmp_path / 'au.db'}"])  # fmt: skip
    assert code == EXIT_USAGE
    assert "mode 0640 lets its group read or change this private key" in capsys.readouterr().err


def test_a_serving_gateways_store_files_are_owner_only(start_gateway, pki: Path) -> None:  # type: ignore[no-untyped-def]
    old = os.umask(0o022)
    try:
        au = start_gateway(AU)
    finally:
        os.umask(old)
    with channel(au.target, creds_for(pki, AU, "operator", server_agency=AU)) as ch:
        admin_pb2_grpc.AdminStub(ch).GetStatus(admin_pb2.GetStatusRequest(), timeout=10)
    db = Path(au.gateway.store.location.removeprefix("sqlite:///"))
    files = [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]
    assert {f.name: stat.S_IMODE(f.stat().st_mode) for f in files} == {f.name: 0o600 for f in files}

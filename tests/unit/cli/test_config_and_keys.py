"""``borderx config init`` and ``borderx keys id`` on real files of the session's dev PKI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from borderx.cli import main
from borderx.config import load_config
from borderx.directory.model import Directory
from borderx.doctor import has_errors, run_checks

AU = "AU-ABF"


@pytest.fixture
def pki_copy(pki: Path, tmp_path: Path) -> Path:
    root = tmp_path / "pki"
    shutil.copytree(pki, root)
    return root


# ---------------------------------------------------------------- keys id


def test_keys_id_of_a_private_key_is_the_directory_s(pki: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "id", str(pki / AU / "signing.key")]) == 0
    kid = capsys.readouterr().out.strip()
    listed = [k.key_id for k in Directory.load(pki / "directory.json").agency(AU).signing_keys]
    assert kid in listed and len(kid) == 64


def test_keys_id_of_the_public_half_is_the_same(
    pki: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    private = serialization.load_pem_private_key((pki / AU / "signing.key").read_bytes(), None)
    public = tmp_path / "signing.pub"
    public.write_bytes(
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    assert main(["keys", "id", str(pki / AU / "signing.key"), "--output", "json"]) == 0
    from_private = json.loads(capsys.readouterr().out)
    assert main(["keys", "id", str(public), "--output", "json"]) == 0
    from_public = json.loads(capsys.readouterr().out)
    assert from_private == from_public
    assert set(from_public) == {"key_id", "algorithm", "public_key"} and from_public["algorithm"] == "ed25519"


def test_keys_id_refuses_a_key_that_is_not_ed25519(
    pki: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the TLS key is ECDSA: listing it as a signing key would verify nothing
    assert main(["keys", "id", str(pki / AU / "gateway.key")]) == 2
    assert "not an Ed25519 key" in capsys.readouterr().err
    other = tmp_path / "ec.pub"
    other.write_bytes(
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    assert main(["keys", "id", str(other)]) == 2
    assert "not an Ed25519 key" in capsys.readouterr().err


def test_keys_id_refuses_what_is_not_a_key(
    pki: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["keys", "id", str(pki / AU / "gateway.pem")]) == 2
    assert "holds no PEM private or public key" in capsys.readouterr().err
    assert main(["keys", "id", str(tmp_path / "absent.key")]) == 2
    assert "cannot read it" in capsys.readouterr().err


# ---------------------------------------------------------------- config init


def test_config_init_writes_a_config_that_loads_and_doctor_accepts(
    pki_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = pki_copy / AU / "new.toml"
    assert (
        main(
            [
                "config",
                "init",
                "--agency",
                AU,
                "--directory",
                str(pki_copy / "directory.json"),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert f"wrote {out}" in capsys.readouterr().out
    config = load_config(out)
    directory = Directory.load(pki_copy / "directory.json")
    assert config.agency == AU
    assert config.listen == directory.agency(AU).endpoint
    assert config.tls_cert == pki_copy / AU / "gateway.pem"
    assert config.signing_key == pki_copy / AU / "signing.key"
    assert config.directory_path.resolve() == (pki_copy / "directory.json").resolve()
    assert config.federation.enabled and config.federation.peers is None  # every other member, as it grows
    text = out.read_text()
    assert text.count("\n#") > 10  # commented
    checks = run_checks(out, network=False)
    assert not has_errors(checks), [c for c in checks if not c.ok]


def test_config_init_takes_paths_from_the_current_folder(
    pki_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "etc").mkdir()
    assert (
        main(
            ["config", "init", "--agency", AU, "--directory", "pki/directory.json", "--out", "etc/gw.toml",
             "--cert", f"pki/{AU}/gateway.pem", "--key", f"pki/{AU}/gateway.key",
             "--signing-key", f"pki/{AU}/signing.key", "--listen", "0.0.0.0:7000",
             "--store", "postgresql://borderx@db.example/borderx"]
        )
        == 0
    )  # fmt: skip
    config = load_config(tmp_path / "etc" / "gw.toml")
    assert config.tls_cert.resolve() == (pki_copy / AU / "gateway.pem").resolve()
    assert (
        config.signing_key is not None
        and config.signing_key.resolve() == (pki_copy / AU / "signing.key").resolve()
    )
    assert config.listen == "0.0.0.0:7000"
    assert config.store_url == "postgresql://borderx@db.example/borderx"


def test_config_init_refuses_an_agency_the_directory_does_not_list(
    pki_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = pki_copy / "sg.toml"
    args = [
        "config",
        "init",
        "--agency",
        "SG-CUSTOMS",
        "--directory",
        str(pki_copy / "directory.json"),
        "--out",
        str(out),
    ]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "--agency: SG-CUSTOMS is not in directory" in err and "certs/README.md" in err
    assert not out.exists()


def test_config_init_keeps_an_existing_file_unless_forced(
    pki_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = pki_copy / AU / "gateway.toml"
    before = out.read_text()
    args = [
        "config",
        "init",
        "--agency",
        AU,
        "--directory",
        str(pki_copy / "directory.json"),
        "--out",
        str(out),
    ]
    assert main(args) == 2
    assert "--out:" in capsys.readouterr().err and out.read_text() == before
    assert main([*args, "--force"]) == 0
    assert out.read_text() != before


def test_config_init_refuses_a_bad_listen_address(pki_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = pki_copy / "x.toml"
    args = [
        "config",
        "init",
        "--agency",
        AU,
        "--directory",
        str(pki_copy / "directory.json"),
        "--out",
        str(out),
    ]
    assert main([*args, "--listen", "nowhere"]) == 2
    assert "--listen" in capsys.readouterr().err and not out.exists()

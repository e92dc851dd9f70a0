"""Real gateway processes for tests: start, wait until listening, signal, kill -9, restart."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


class GatewayProcess:
    """``borderx serve`` in a subprocess, logging JSON to a file."""

    def __init__(
        self, config: Path, *, store: str, workdir: Path, name: str, listen: str = "127.0.0.1:0"
    ) -> None:
        self.config, self.store, self.workdir, self.name, self.listen = config, store, workdir, name, listen
        self.log = workdir / f"{name}.log"
        self.ready = workdir / f"{name}.port"
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    def start(self, timeout: float = 30.0) -> GatewayProcess:
        self.ready.unlink(missing_ok=True)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable, "-m", "borderx", "serve", "--config", str(self.config),
                    "--listen", self.listen, "--store", self.store, "--ready-file", str(self.ready),
                ],
                stdout=log,
                stderr=log,
                env=env,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while not self.ready.exists():
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not start in {timeout} s")
            time.sleep(0.02)
        self.port = int(self.ready.read_text())
        if self.listen.endswith(":0"):
            # keep the port across restarts, as a real deployment would
            self.listen = f"127.0.0.1:{self.port}"
        return self

    @property
    def target(self) -> str:
        return f"localhost:{self.port}"

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def terminate(self, timeout: float = 20.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def events(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out

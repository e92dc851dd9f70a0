"""Small parsers for the files under deploy/: a Dockerfile, systemd units, YAML manifests.

No container engine, cluster or systemd is at hand where the tests run, so the deploy
files are read the way those tools read them, as far as the tests need: Dockerfile
instructions (comments, line continuations, exec form), systemd unit sections (repeated
keys kept in order), and YAML documents with PyYAML's safe loader.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case: FROM, RUN, …
    args: str  # the rest of the logical line, with continuations joined
    stage: int  # index of the FROM this instruction belongs to (-1 before the first)

    def exec_form(self) -> list[str] | None:
        """The JSON array of an exec-form instruction (after any --flags), else None."""
        rest = self.args
        while rest.startswith("--"):
            _, _, rest = rest.partition(" ")
            rest = rest.lstrip()
        if self.keyword == "HEALTHCHECK":
            _, _, rest = rest.partition("CMD")
            rest = rest.strip()
        if not rest.startswith("["):
            return None
        value = json.loads(rest)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"{self.keyword}: exec form must be a JSON array of strings: {rest}")
        return value

    def flags(self) -> dict[str, str]:
        return dict(re.findall(r"--([a-z-]+)=(\S+)", self.args.split("[", 1)[0]))


def parse_dockerfile(text: str) -> list[Instruction]:
    """Logical instructions of a Dockerfile (parser directives and comments dropped)."""
    out: list[Instruction] = []
    stage = -1
    buffer = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not buffer and (not line or line.startswith("#")):
            continue
        if buffer and line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            buffer += line[:-1] + " "
            continue
        buffer += line
        keyword, _, args = buffer.strip().partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        out.append(Instruction(keyword, " ".join(args.split()) if "[" not in args else args.strip(), stage))
        buffer = ""
    if buffer:
        raise ValueError(f"Dockerfile ends inside a continued line: {buffer!r}")
    return out


def dockerfile_args(instructions: list[Instruction]) -> dict[str, str]:
    """Global ``ARG NAME=default`` values (those before the first FROM)."""
    out = {}
    for ins in instructions:
        if ins.keyword == "ARG" and ins.stage == -1:
            name, _, default = ins.args.partition("=")
            out[name] = default
    return out


def substitute(value: str, variables: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: variables[m.group(1) or m.group(2)], value)


def parse_unit(text: str) -> dict[str, dict[str, list[str]]]:
    """A systemd unit: ``{section: {key: [values in order]}}`` (repeated keys accumulate)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    logical = re.sub(r"\\\n", " ", text)
    for raw in logical.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        if current is None or "=" not in line:
            raise ValueError(f"not a unit line: {raw!r}")
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


@cache
def yaml_documents(path: Path) -> tuple[Any, ...]:
    return tuple(doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None)


def k8s_objects() -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in yaml_documents(path):
            yield path, doc


def k8s_object(kind: str) -> dict[str, Any]:
    found = [doc for _, doc in k8s_objects() if doc["kind"] == kind]
    if len(found) != 1:
        raise LookupError(f"expected one {kind} in deploy/k8s, found {len(found)}")
    return found[0]


def port_of(host_port: str) -> int:
    return int(host_port.rpartition(":")[2])

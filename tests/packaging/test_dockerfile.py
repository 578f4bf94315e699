"""Dockerfile / .dockerignore, linted textually (no docker daemon here)."""

from __future__ import annotations

import json
import re
import tomllib

from conftest import ROOT

DOCKERFILE = ROOT / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def stages() -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for ins in instructions():
        if ins[0] == "FROM":
            result.append([])
        if result:
            result[-1].append(ins)
    return result


def test_multi_stage_build():
    all_stages = stages()
    assert len(all_stages) >= 2, "multi-stage build expected"
    builder, final = all_stages[0], all_stages[-1]
    assert re.fullmatch(r"rust:1\.95-bookworm AS builder", builder[0][1], re.I)
    assert final[0][1] == "gcr.io/distroless/cc-debian12:nonroot"
    runs = " ".join(arg for ins, arg in builder if ins == "RUN")
    assert "cargo build --release --locked" in runs
    copies = [arg for ins, arg in final if ins == "COPY"]
    assert copies and all(arg.startswith("--from=builder ") for arg in copies), "final stage copies only the binary"
    assert not any(ins == "RUN" for ins, _ in final), "no RUN in the distroless stage"


def test_final_stage_runs_as_non_root_user():
    final = stages()[-1]
    users = [arg for ins, arg in final if ins == "USER"]
    assert users, "final stage must set USER"
    user = users[-1].split(":")[0]
    assert user.isdigit() and int(user) == 65532, "numeric non-root UID (runAsNonRoot can verify it)"


def test_entrypoint_and_cmd():
    final = dict(stages()[-1][1:])  # last occurrence wins
    assert json.loads(final["ENTRYPOINT"]) == ["/bedrock-logging-operator"]
    assert json.loads(final["CMD"]) == ["run"]
    assert "8080" in final.get("EXPOSE", "")


def test_binary_name_matches_cargo():
    cargo = tomllib.loads((ROOT / "Cargo.toml").read_text())
    bins = [b["name"] for b in cargo.get("bin", [])] or [cargo["package"]["name"]]
    assert "bedrock-logging-operator" in bins
    assert "target/release/bedrock-logging-operator" in DOCKERFILE.read_text()


def test_no_remote_add_or_latest_tags():
    for ins, arg in instructions():
        assert ins != "ADD", "use COPY, not ADD"
        if ins == "FROM":
            assert ":latest" not in arg and ":" in arg.split()[0], f"pin base images: {arg}"


def test_dockerignore_excludes_local_state():
    ignored = {l.strip() for l in (ROOT / ".dockerignore").read_text().splitlines() if l.strip() and not l.startswith("#")}
    for entry in ("target", ".venv", ".git"):
        assert entry in ignored, entry
    # what the build needs must stay in the context
    for needed in ("src", "Cargo.toml", "Cargo.lock"):
        assert needed not in ignored

"""The Dockerfile, CI script and README agree on how the bot is installed and run.

Docker cannot run here, so the Dockerfile's instructions are checked as text.
"""

from __future__ import annotations

import importlib.util
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"\\\n", " ", text)
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        out.append((keyword.upper(), rest.strip()))
    return out


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    return instructions(ROOT / "Dockerfile")


def args_of(items: list[tuple[str, str]], keyword: str) -> list[str]:
    return [rest for key, rest in items if key == keyword]


def test_base_image_is_official_slim_python(dockerfile: list[tuple[str, str]]) -> None:
    (base,) = args_of(dockerfile, "FROM")
    assert re.fullmatch(r"python:3\.1[1-9]-slim(-\w+)?", base)


def test_runs_as_a_non_root_user(dockerfile: list[tuple[str, str]]) -> None:
    users = args_of(dockerfile, "USER")
    assert users, "no USER instruction"
    assert users[-1] not in {"root", "0", "0:0"}
    keys = [key for key, _ in dockerfile]
    assert keys.index("USER") > keys.index("RUN"), "USER must come after the install steps"


def test_healthcheck_uses_the_installed_command(dockerfile: list[tuple[str, str]]) -> None:
    (check,) = args_of(dockerfile, "HEALTHCHECK")
    assert '"incident-bot", "health"' in check


def test_entry_point_is_the_installed_run_command(dockerfile: list[tuple[str, str]]) -> None:
    (entry,) = args_of(dockerfile, "ENTRYPOINT")
    assert entry == '["incident-bot", "run"]'


def test_knowledge_is_baked_in_and_database_on_a_volume(
    dockerfile: list[tuple[str, str]],
) -> None:
    assert any(rest.startswith("knowledge ") for rest in args_of(dockerfile, "COPY"))
    volumes = " ".join(args_of(dockerfile, "VOLUME"))
    env = " ".join(args_of(dockerfile, "ENV"))
    db_dir = re.search(r"BOT_DB_PATH=(\S+)/", env)
    assert db_dir is not None and db_dir.group(1) in volumes
    assert "BOT_KNOWLEDGE_DIR=" in env
    assert "TELEGRAM_BOT_TOKEN" not in env, "secrets are given at run time, never baked in"


def test_docker_and_ci_install_the_package_the_same_way(
    dockerfile: list[tuple[str, str]],
) -> None:
    docker_installs = [r for r in args_of(dockerfile, "RUN") if "pip install" in r]
    assert docker_installs == ["pip install ."]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    ci_installs = [
        line for line in ci.splitlines() if re.search(r"pip install .*'\.\[dev\]'", line)
    ]
    assert ci_installs, "CI must install the package with pip install '.[dev]'"
    assert "-e" not in " ".join(ci_installs).split(), "CI must not use an editable install"


def test_readme_test_command_is_what_ci_runs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    command = (
        "python3 -m venv .venv && .venv/bin/pip install '.[dev]' && .venv/bin/python -m pytest"
    )
    assert command in readme
    assert command in ci
    assert ci.rstrip().endswith(".venv/bin/python -m pytest")


def test_console_script_is_declared() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["scripts"]["incident-bot"] == "bot.cli:main"
    names = " ".join(project["dependencies"])
    for package in ("python-telegram-bot", "rapidfuzz", "pydantic", "sqlite-utils"):
        assert package in names


def test_sniffio_is_a_declared_and_installed_dependency() -> None:
    """httpcore looks sniffio up on every pooled request; missing, that is a failed import
    (a search of sys.path) each time."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert any(re.match(r"sniffio\b", d) for d in project["dependencies"])
    assert importlib.util.find_spec("sniffio") is not None

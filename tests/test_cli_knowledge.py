"""The `check` and `load` commands, configuration from options and environment, and --help."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from bot.cli import cli
from bot.errors import KnowledgeInvalid
from bot.knowledge.loader import load_knowledge
from bot.knowledge.store import KNOWLEDGE_TABLES

KNOWLEDGE_DIR = Path(__file__).resolve().parent.parent / "knowledge"
YAML_NAME = "kakaotalk-outage-2020-03-02.yaml"

pytestmark = pytest.mark.usefixtures("isolated_env")


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def _tables(db: Path) -> set[str]:
    conn = sqlite3.connect(db)
    try:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        conn.close()


def _first_answer(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        return str(conn.execute("SELECT answer FROM intents WHERE id = 'overview'").fetchone()[0])
    finally:
        conn.close()


@pytest.fixture
def broken_dir(knowledge_data: dict[str, Any], make_knowledge: Callable[..., Path]) -> Path:
    """Knowledge with three problems of different kinds."""
    knowledge_data["intents"][0]["quotes"].append("기사에 없는 문장.")
    knowledge_data["intents"][2]["related"].append("no_such_intent")
    knowledge_data["entities"][1]["default_intent"] = "no_such_intent"
    return make_knowledge(knowledge_data, name="broken")


@pytest.fixture
def changed_dir(knowledge_data: dict[str, Any], make_knowledge: Callable[..., Path]) -> Path:
    """Valid knowledge whose overview answer differs from the shipped one."""
    knowledge_data["intents"][0]["answer"] = "바뀐 개요 답변입니다."
    return make_knowledge(knowledge_data, name="changed")


# --- check ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["check"], id="default-folder"),
        pytest.param(["--knowledge", KNOWLEDGE_DIR, "check"], id="--knowledge"),
        pytest.param(["check", KNOWLEDGE_DIR], id="folder-argument"),
        pytest.param(["check", KNOWLEDGE_DIR / YAML_NAME], id="file-argument"),
    ],
)
def test_check_accepts_the_shipped_knowledge(args: list[str | Path]) -> None:
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("OK: 1 file(s), ")
    intents = len(load_knowledge([KNOWLEDGE_DIR]).intents)
    assert f"{intents} intents" in result.stdout
    assert result.stderr == ""


@pytest.mark.parametrize("how", ["--knowledge", "argument"])
def test_check_lists_every_problem_on_stderr(broken_dir: Path, how: str) -> None:
    with pytest.raises(KnowledgeInvalid) as info:
        load_knowledge([broken_dir])
    expected = [str(p) for p in info.value.problems]
    assert len(expected) == 3

    args = ["--knowledge", broken_dir, "check"] if how == "--knowledge" else ["check", broken_dir]
    result = invoke(*args)

    assert result.exit_code == 1
    assert "OK" not in result.stdout
    lines = result.stderr.splitlines()
    assert lines == [*expected, "3 problem(s) found; fix them and run check again."]
    for needle in ("quote is not verbatim", "related intent 'no_such_intent'", "default intent"):
        assert sum(needle in line for line in lines) == 1


def test_check_fails_a_phrasing_the_bot_would_not_answer(
    knowledge_data: dict[str, Any], make_knowledge: Callable[..., Path]
) -> None:
    intents = {intent["id"]: intent for intent in knowledge_data["intents"]}
    # 인스타 is a decline term (another service's outage): the bot would decline it.
    declined = "인스타에도 사과문 올렸어?"
    intents["apology"]["phrasings"].append(declined)
    result = invoke("check", make_knowledge(knowledge_data, name="declined"))
    assert result.exit_code == 1
    assert "OK" not in result.stdout
    problem, summary = result.stderr.splitlines()
    assert YAML_NAME in problem
    assert "intents (id=apology)" in problem
    assert "phrasings" in problem
    assert f"self-check: {declined!r} now reaches nothing" in problem
    assert summary == "1 problem(s) found; fix them and run check again."


def test_check_on_a_missing_folder_fails(tmp_path: Path) -> None:
    result = invoke("check", tmp_path / "nowhere")
    assert result.exit_code == 1
    assert "nowhere" in result.stderr


# --- load ----------------------------------------------------------------------------------


@pytest.mark.parametrize("db", ["tmp/x.db", "x.db", "deeper/still/x.db"])
def test_load_creates_the_tables(isolated_env: Path, db: str) -> None:
    result = invoke("--knowledge", KNOWLEDGE_DIR, "--db", db, "load")
    assert result.exit_code == 0, result.output
    path = isolated_env / db  # relative to the working directory
    assert path.is_file()
    assert set(KNOWLEDGE_TABLES) <= _tables(path)
    assert f"Loaded 1 file(s) into {db}" in result.stdout
    assert "25 intents" in result.stdout


def test_load_refuses_broken_knowledge_without_creating_a_database(
    broken_dir: Path, isolated_env: Path
) -> None:
    result = invoke("--knowledge", broken_dir, "--db", "tmp/x.db", "load")
    assert result.exit_code == 1
    assert "quote is not verbatim" in result.stderr
    assert "no_such_intent" in result.stderr
    assert "error: the stored knowledge was not changed." in result.stderr
    assert not (isolated_env / "tmp").exists()


def test_load_again_replaces_the_knowledge(changed_dir: Path, isolated_env: Path) -> None:
    assert invoke("--knowledge", KNOWLEDGE_DIR, "--db", "k.db", "load").exit_code == 0
    shipped_answer = _first_answer(isolated_env / "k.db")
    assert invoke("--knowledge", changed_dir, "--db", "k.db", "load").exit_code == 0
    assert _first_answer(isolated_env / "k.db") == "바뀐 개요 답변입니다." != shipped_answer


# --- configuration from the environment ----------------------------------------------------


def test_bot_db_path_is_honoured(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    db = tmp_path / "from-env" / "bot.db"
    monkeypatch.setenv("BOT_DB_PATH", str(db))
    result = invoke("--knowledge", KNOWLEDGE_DIR, "load")
    assert result.exit_code == 0, result.output
    assert set(KNOWLEDGE_TABLES) <= _tables(db)
    assert not (tmp_path / "data").exists(), "the default path was used instead"


def test_db_option_beats_bot_db_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BOT_DB_PATH", str(tmp_path / "env.db"))
    result = invoke("--knowledge", KNOWLEDGE_DIR, "--db", tmp_path / "option.db", "load")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "option.db").exists()
    assert not (tmp_path / "env.db").exists()


def test_bot_knowledge_dir_is_honoured_by_load(
    monkeypatch: pytest.MonkeyPatch, changed_dir: Path, tmp_path: Path
) -> None:
    monkeypatch.setenv("BOT_KNOWLEDGE_DIR", str(changed_dir))
    result = invoke("--db", tmp_path / "k.db", "load")
    assert result.exit_code == 0, result.output
    assert _first_answer(tmp_path / "k.db") == "바뀐 개요 답변입니다."


def test_bot_knowledge_dir_is_honoured_by_check(
    monkeypatch: pytest.MonkeyPatch, broken_dir: Path
) -> None:
    monkeypatch.setenv("BOT_KNOWLEDGE_DIR", str(broken_dir))
    result = invoke("check")
    assert result.exit_code == 1
    assert "3 problem(s) found" in result.stderr
    assert str(broken_dir) in result.stderr


def test_knowledge_option_beats_bot_knowledge_dir(
    monkeypatch: pytest.MonkeyPatch, broken_dir: Path
) -> None:
    monkeypatch.setenv("BOT_KNOWLEDGE_DIR", str(broken_dir))
    result = invoke("--knowledge", KNOWLEDGE_DIR, "check")
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("BOT_MAX_FILE_BYTES", "1000", "over the limit of 1000 bytes"),
        ("BOT_MAX_YAML_ALIASES", "0", "too many YAML aliases (more than 0)"),
    ],
)
def test_limits_from_the_environment_are_honoured(
    monkeypatch: pytest.MonkeyPatch,
    make_knowledge: Callable[..., Path],
    variable: str,
    value: str,
    message: str,
    shipped_yaml_text: str,
) -> None:
    folder = make_knowledge(shipped_yaml_text + "\nx: &a [1]\ny: *a\n")
    assert "too many YAML aliases" not in invoke("check", folder).stderr
    monkeypatch.setenv(variable, value)
    result = invoke("check", folder)
    assert result.exit_code == 1
    assert message in result.stderr


def test_bad_configuration_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_MAX_FILE_BYTES", "not-a-number")
    result = invoke("check")
    assert result.exit_code == 1
    assert "bad configuration" in result.stderr
    assert "BOT_MAX_FILE_BYTES" in result.stderr


# --- help ----------------------------------------------------------------------------------

COMMANDS = sorted(cli.commands)


def test_the_knowledge_commands_exist() -> None:
    assert {"check", "load"} <= set(COMMANDS)


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_has_help(name: str) -> None:
    command = cli.commands[name]
    assert command.help and command.help.strip(), f"{name} has no help text"
    result = invoke(name, "--help")
    assert result.exit_code == 0, result.output
    assert f"Usage: cli {name}" in result.stdout
    first_line = command.help.strip().splitlines()[0]
    assert first_line in " ".join(result.stdout.split())
    for param in command.params:
        if isinstance(param, click.Option):
            assert param.help, f"{name} {param.opts} has no help text"


def test_group_help_lists_every_command() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    for name in COMMANDS:
        assert f"  {name} " in result.stdout or result.stdout.rstrip().endswith(f"  {name}")
    for option in ("--knowledge", "--db"):
        assert option in result.stdout

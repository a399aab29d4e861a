"""The `ask`, `chat` and `eval` commands, run through click's test runner."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from bot.cli import cli
from bot.engine.dialogue import Engine

TESTS = Path(__file__).resolve().parent
DEV_SET = TESTS / "data" / "dev.jsonl"
KNOWLEDGE_DIR = TESTS.parent / "knowledge"
CONTRACT_KEYS = {"question", "answered", "intent", "confidence", "answer", "suggestions", "source"}
ALLOWED_EXTRA_KEYS = {"entity"}

pytestmark = pytest.mark.usefixtures("isolated_env")


@dataclass
class Runner:
    """Invokes the CLI with a database in tmp_path and the shipped knowledge."""

    db: Path

    def __call__(self, *args: str | Path, stdin: str | None = None) -> Result:
        argv = ["--db", str(self.db), "--knowledge", str(KNOWLEDGE_DIR), *map(str, args)]
        return CliRunner().invoke(cli, argv, input=stdin, catch_exceptions=False)


@pytest.fixture
def run(tmp_path: Path) -> Runner:
    db = tmp_path / "db" / "bot.db"
    db.parent.mkdir()
    return Runner(db)


def _json_lines(result: Result) -> list[dict[str, Any]]:
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    return [json.loads(line) for line in lines]


def _check_contract(row: dict[str, Any]) -> None:
    assert set(row) >= CONTRACT_KEYS
    assert set(row) - CONTRACT_KEYS <= ALLOWED_EXTRA_KEYS
    assert isinstance(row["answered"], bool)
    assert isinstance(row["confidence"], int | float)
    assert 0.0 <= row["confidence"] <= 1.0
    assert isinstance(row["answer"], str) and row["answer"]
    assert isinstance(row["suggestions"], list)
    if row["answered"]:
        assert isinstance(row["intent"], str)
        assert isinstance(row["source"], str)
    else:
        assert row["intent"] is None
        assert row["source"] is None


# --- ask ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "fact"),
    [
        ("카카오스토리 복구 시각", "오후 3시"),
        ("택시결재안됐어", "자동결제"),
    ],
)
def test_ask_prints_the_answer_and_its_source(
    run: Runner, article_text: str, question: str, fact: str
) -> None:
    result = run("ask", question)
    assert result.exit_code == 0, result.output
    assert fact in result.stdout
    source_lines = [line for line in result.stdout.splitlines() if "출처" in line]
    assert len(source_lines) == 1
    assert "서울경제" in source_lines[0]
    assert "2020-03-02" in source_lines[0]
    quote = source_lines[0].split("“", 1)[1].rsplit("”", 1)[0]
    assert all(part in article_text for part in quote.split(" … "))
    assert run.db.exists()


def test_ask_in_english_prints_an_english_source_label(run: Runner) -> None:
    result = run("ask", "When was KakaoTalk fixed?")
    assert result.exit_code == 0, result.output
    assert "10:17" in result.stdout
    assert "Source:" in result.stdout


def test_ask_out_of_scope_prints_a_refusal_with_suggestions(run: Runner) -> None:
    result = run("ask", "점심 메뉴 추천해줘")
    assert result.exit_code == 0, result.output
    assert "서울경제" in result.stdout
    assert "출처" not in result.stdout
    numbered = [line for line in result.stdout.splitlines() if line.strip()[:2] in {"1.", "2."}]
    assert len(numbered) == 2


def test_ask_json_with_a_question_argument(run: Runner) -> None:
    result = run("ask", "--json", "장애 원인이 뭐였지")
    assert result.exit_code == 0, result.output
    [row] = _json_lines(result)
    _check_contract(row)
    assert row["answered"] is True
    assert row["intent"] == "official_cause"
    assert row["question"] == "장애 원인이 뭐였지"


def test_ask_json_reads_stdin_one_independent_object_per_line(run: Runner, engine: Engine) -> None:
    questions = [
        "카카오톡 언제 복구됐어?",
        "그럼 카카오스토리는?",
        "점심 메뉴 추천해줘",
        "When did the outage begin?",
    ]
    stdin = "\n".join([questions[0], "", "   ", *questions[1:]]) + "\n"
    result = run("ask", "--json", stdin=stdin)
    assert result.exit_code == 0, result.output
    rows = _json_lines(result)
    assert [row["question"] for row in rows] == questions  # blank lines are skipped
    for row in rows:
        _check_contract(row)
    first, follow_up, lunch, english = rows
    assert (first["answered"], first["intent"]) == (True, "outage_end")
    assert lunch["answered"] is False
    assert lunch["suggestions"]
    assert (english["answered"], english["intent"]) == (True, "outage_start")
    # Each line stands alone: the follow-up is not read in the light of the first line,
    # but exactly as it would be on its own.
    assert (follow_up["intent"], follow_up.get("entity")) != ("outage_end", "kakaostory")
    alone = engine.ask(questions[1]).to_json()
    assert (follow_up["intent"], follow_up["entity"]) == (alone["intent"], alone["entity"])
    assert follow_up["answer"] == alone["answer"]


# --- chat -----------------------------------------------------------------------------------


def test_chat_json_reads_stdin_as_one_conversation(run: Runner) -> None:
    stdin = "카카오톡 언제 복구됐어?\n\n그럼 카카오스토리는?\n/quit\n끝난 건?\n"
    result = run("chat", "--json", stdin=stdin)
    assert result.exit_code == 0, result.output
    rows = _json_lines(result)
    assert len(rows) == 2  # nothing after /quit
    first, follow_up = rows
    _check_contract(first)
    _check_contract(follow_up)
    assert first["intent"] == "outage_end"
    assert follow_up["answered"] is True
    assert follow_up["intent"] == "outage_end"
    assert follow_up["entity"] == "kakaostory"
    assert "오후 3시" in follow_up["answer"]


# --- eval -----------------------------------------------------------------------------------


def _accuracy(result: Result) -> float:
    line = next(x for x in result.stdout.splitlines() if x.startswith("in-scope accuracy:"))
    return float(line.split(":", 1)[1].split("%", 1)[0]) / 100


def test_eval_prints_accuracy_and_passes_when_thresholds_are_met(run: Runner) -> None:
    result = run(
        "eval",
        DEV_SET,
        "--quiet",
        "--no-baselines",
        "--min-accuracy",
        "0.5",
        "--min-refusal",
        "0.5",
        "--min-typo",
        "0.5",
        "--min-english",
        "0.5",
        "--min-followup",
        "0.5",
        "--max-wrong",
        "100",
    )
    assert result.exit_code == 0, result.output
    assert 0.5 <= _accuracy(result) <= 1.0
    assert "out-of-scope refusals:" in result.stdout
    assert "baseline" not in result.stdout  # --no-baselines
    assert "-- mistakes" not in result.stdout  # --quiet
    assert "FAIL" not in result.output


def test_eval_fails_when_accuracy_is_below_the_threshold(run: Runner) -> None:
    result = run("eval", DEV_SET, "--quiet", "--no-baselines", "--min-accuracy", "0.999")
    assert result.exit_code == 1
    assert "FAIL: in-scope accuracy" in result.stderr
    assert _accuracy(result) < 0.999


def test_eval_reports_every_threshold_it_misses(run: Runner, tmp_path: Path) -> None:
    # Labelled wrongly on purpose, so that every figure falls short whatever the engine.
    wrong = [
        {"question": "카톡 언제 복구됐어?", "intent": None, "kind": "out_of_scope"},
        {"question": "카톡 언재 복구됐어", "intent": "apology", "kind": "typo"},
        {"question": "when did kakaotalk recover?", "intent": "apology", "kind": "english"},
        {
            "question": "카카오스토리는?",
            "intent": "apology",
            "kind": "followup",
            "context": ["카톡 언제 복구됐어?"],
        },
    ]
    labelled = tmp_path / "wrong.jsonl"
    labelled.write_text(
        "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in wrong), encoding="utf-8"
    )
    result = run(
        "eval",
        labelled,
        "--quiet",
        "--no-baselines",
        "--min-refusal",
        "0.999",
        "--min-typo",
        "0.999",
        "--min-english",
        "0.999",
        "--min-followup",
        "0.999",
        "--max-wrong",
        "0",
    )
    assert result.exit_code == 1
    failures = [line for line in result.stderr.splitlines() if line.startswith("FAIL:")]
    assert len(failures) == 5
    for label in ["refusals", "typos", "english", "follow-ups", "wrong answers"]:
        assert any(label in line for line in failures), label

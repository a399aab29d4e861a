"""The labelled dev set: its shape, and the accuracy the engine must keep on it.

The thresholds are set a little below what the engine measures today, so a change that
makes understanding worse fails here; raise them when the engine improves.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.engine.dialogue import Engine
from bot.evaluation import (
    IN_SCOPE_TYPO_KINDS,
    OUT_OF_SCOPE_KINDS,
    Example,
    Report,
    read_examples,
    run_baseline,
    run_engine,
    tfidf_baseline,
    wratio_baseline,
)
from bot.knowledge.loader import Knowledge, phrasing_key

DEV_SET = Path(__file__).resolve().parent / "data" / "dev.jsonl"
# Focused sets by other agents, from the article and the list of intents (not the
# phrasings), used while working on those kinds: more dev sets, not held-out ones.
# name -> (kinds, in-scope accuracy, refusal rate or None, most wrong answers); measured:
# english (90: 70 to answer, 20 to decline) 88.6%, 100%, 0 (78.6%, 95%, 1 before);
# refusals (120: 80 to decline, 40 near the boundary to answer) 92.5%, 100%, 1 (87.5%,
# 91.2%, 8 before); typos (119: typos, no spaces, noise) 95.0%, -, 1 (90.8%, -, 3 before).
FOCUSED_SETS = {
    "english": ({"english"}, 0.88, 0.95, 0),
    "refusals": (
        {"out_of_scope", "other_incident", "formal", "casual", "fragment", "english"},
        0.92,
        0.98,
        1,
    ),
    "typos": ({"typo", "nospace", "noise"}, 0.94, None, 1),
}

KINDS = {
    "formal",
    "casual",
    "fragment",
    "nospace",
    "typo",
    "noise",
    "entity",
    "english",
    "followup",
    "out_of_scope",
    "other_incident",
}
MIN_QUESTIONS = 300
MIN_PER_KIND = 10

# Measured on the shipped knowledge: 95.6%, 100%, 98.3%, 94.6%, 84.4%, 3 wrong answers, and
# 13 mistakes against the better baseline's 86 (0.15).
MIN_IN_SCOPE_ACCURACY = 0.95
MIN_REFUSAL_RATE = 0.98
MIN_TYPO_NOSPACE_RATE = 0.96
MIN_ENGLISH_RATE = 0.94
MIN_FOLLOWUP_RATE = 0.84
MAX_WRONG_ANSWERS = 3
MAX_MISTAKES_VS_BASELINE = 1 / 3


@dataclass(frozen=True)
class Measured:
    engine: Report
    wratio: Report
    tfidf: Report


@pytest.fixture(scope="module")
def examples() -> list[Example]:
    return read_examples(DEV_SET)


@pytest.fixture(scope="module")
def measured(engine: Engine, examples: list[Example]) -> Measured:
    """The engine and both baselines over the dev set, run once for this module."""
    return Measured(
        engine=run_engine(engine, examples),
        wratio=run_baseline("wratio", wratio_baseline(engine), examples, engine),
        tfidf=run_baseline("tfidf", tfidf_baseline(engine), examples, engine),
    )


# --- the dev set itself ---------------------------------------------------------------------


def test_dev_set_is_large_enough(examples: list[Example]) -> None:
    assert len(examples) >= MIN_QUESTIONS


def test_dev_set_covers_every_kind(examples: list[Example]) -> None:
    kinds = [e.kind for e in examples]
    assert set(kinds) == KINDS
    for kind in KINDS:
        assert kinds.count(kind) >= MIN_PER_KIND, kind


def test_dev_set_covers_every_intent(engine: Engine, examples: list[Example]) -> None:
    labelled = {e.intent for e in examples if e.intent is not None}
    assert labelled == set(engine.index.intents)


def test_every_label_exists_in_the_knowledge(engine: Engine, examples: list[Example]) -> None:
    for example in examples:
        if example.intent is not None:
            assert example.intent in engine.index.intents, example
        if example.entity is not None:
            assert example.intent is not None, example
            assert example.entity in engine.index.entities, example
            intent = engine.index.intents[example.intent]
            # An entity label means the intent has an answer specific to that entity.
            assert example.entity in {a.entity for a in intent.entity_answers}, example


def test_labels_agree_with_kinds(examples: list[Example]) -> None:
    for example in examples:
        assert example.question.strip(), example
        if example.kind in OUT_OF_SCOPE_KINDS:
            assert example.intent is None, example
        elif example.kind != "followup":
            assert example.intent is not None, example
        # Only follow-ups come with earlier questions, and every follow-up does.
        assert bool(example.context) == (example.kind == "followup"), example


def test_dev_questions_are_not_repeated(examples: list[Example]) -> None:
    seen = [(e.question, e.context) for e in examples]
    assert len(seen) == len(set(seen))


# --- measured thresholds --------------------------------------------------------------------


def test_in_scope_accuracy(measured: Measured) -> None:
    assert measured.engine.accuracy >= MIN_IN_SCOPE_ACCURACY


def test_out_of_scope_refusal_rate(measured: Measured) -> None:
    assert measured.engine.refusal_rate >= MIN_REFUSAL_RATE


def test_typo_and_nospace_rate(measured: Measured) -> None:
    assert measured.engine.kind_rate(*IN_SCOPE_TYPO_KINDS) >= MIN_TYPO_NOSPACE_RATE


def test_english_rate(measured: Measured) -> None:
    assert measured.engine.kind_rate("english") >= MIN_ENGLISH_RATE


def test_follow_up_rate(measured: Measured) -> None:
    assert measured.engine.kind_rate("followup") >= MIN_FOLLOWUP_RATE


def test_wrong_answers(measured: Measured) -> None:
    wrong = [
        (o.example.question, o.example.intent, o.intent) for o in measured.engine.wrong_answers
    ]
    assert len(wrong) <= MAX_WRONG_ANSWERS, wrong


def test_engine_beats_both_baselines(measured: Measured) -> None:
    best = min(len(measured.wratio.mistakes), len(measured.tfidf.mistakes))
    assert len(measured.engine.mistakes) < best
    assert measured.engine.accuracy > max(measured.wratio.accuracy, measured.tfidf.accuracy)
    assert len(measured.engine.wrong_answers) < min(
        len(measured.wratio.wrong_answers), len(measured.tfidf.wrong_answers)
    )


def test_engine_makes_at_most_a_third_of_the_better_baselines_mistakes(
    measured: Measured,
) -> None:
    best = min(len(measured.wratio.mistakes), len(measured.tfidf.mistakes))
    assert len(measured.engine.mistakes) <= MAX_MISTAKES_VS_BASELINE * best


def test_every_example_is_measured(measured: Measured, examples: list[Example]) -> None:
    for report in (measured.engine, measured.wratio, measured.tfidf):
        assert [o.example for o in report.outcomes] == examples
    per_kind = measured.engine.per_kind()
    assert sum(n for _, n in per_kind.values()) == len(examples)


@pytest.mark.parametrize("name", ["dev", *FOCUSED_SETS])
def test_no_dev_question_is_a_knowledge_phrasing(knowledge: Knowledge, name: str) -> None:
    path = DEV_SET.with_name(f"{name}.jsonl")
    known = {
        phrasing_key(text)
        for intent, _source in knowledge.intents.values()
        for text in [*intent.phrasings, intent.question, intent.question_en or ""]
        if text
    }
    same = [e.question for e in read_examples(path) if phrasing_key(e.question) in known]
    assert same == [], "dev questions must be written independently of the phrasings"


@pytest.mark.parametrize("name", sorted(FOCUSED_SETS))
def test_focused_set(engine: Engine, name: str) -> None:
    kinds, accuracy, refusals, wrong = FOCUSED_SETS[name]
    report = run_engine(engine, read_examples(DEV_SET.with_name(f"{name}.jsonl")))
    assert {o.example.kind for o in report.outcomes} <= kinds
    assert report.accuracy >= accuracy
    if refusals is not None:
        assert report.refusal_rate >= refusals
    assert len(report.wrong_answers) <= wrong, [o.example.question for o in report.wrong_answers]

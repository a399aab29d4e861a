"""Question sets written afterwards by other authors, from the article alone, without seeing
the knowledge, the code or the dev set: how well understanding generalises.

fresh1 was used to choose decision thresholds; fresh2 was only ever measured in aggregate.
fresh3 came later (a third author, given also the list of intents and their answers): it was
measured once before and once after the phrasings added with it, only in aggregate.
fresh4 (a fourth author, like fresh3) was measured blind once (93.4% in scope, 3 wrong),
then used as a working set: its mistakes were read and fixed in general ways. fresh5 (a
fifth author) likewise: 93.4% in scope, 92.7% refusals, 3 wrong when measured blind; and
fresh6 (a sixth): 92.3% in scope, 90.5% refusals, 9 wrong when measured blind; and fresh7 (a
seventh): 91.0% in scope, 92.5% refusals, 8 wrong; and fresh8 (an eighth): 91.4% in scope,
90.0% refusals, 5 wrong; and fresh9 (a ninth): 92.1% in scope, 90.0% refusals, 9 wrong when
measured blind. fresh10 (a tenth) was measured once blind: 96.4% in scope, 90.2% refusals,
6 wrong; and fresh11 (an eleventh): 93.2% in scope, 85.7% refusals, 9 wrong; and fresh13 (a
thirteenth, with a later engine): 94.7% in scope, 100% refusals, 1 wrong. All three were then
working sets, like fresh4-fresh9. fresh12 (a twelfth author) was kept back unread and
measured once blind: 93.4% in scope, 93.2% refusals, 8 wrong; three of its refusal and
topic misses were then fixed in general ways. fresh14 (a fourteenth), written last, was
measured once with the final engine of that session: 90.4% in scope, 90.7% refusals, 9
wrong; nothing was changed after it, and its thresholds are those figures. In the next
session fresh15 (blind: 94.1% in scope, 95.5% refusals, 4 wrong) and fresh17 (blind, mid-
session: 97.0% in scope, 93.2% refusals, 3 wrong) were measured once each, then worked on;
fresh18 (blind, later: 95.9% in scope, 100% refusals, 1 wrong) likewise; and fresh16,
written at the start of that session and kept back unread until measured once near its end
(95.1% in scope, 93.3% refusals, 8 wrong), after which five of its mistakes were fixed in
general ways. fresh19, written meanwhile and kept back, was measured once with the final
engine: 93.8% in scope, 93.3% refusals, 4 wrong. In the session after, fresh19 became a
working set; fresh20 (93.1% / 92.5% / 5 wrong), fresh21 (98.2% / 95.0% / 2) and fresh22
(95.3% / 100% / 2) were measured blind at its start, fresh23 (95.9% / 100% / 2) and
fresh24 (95.2% / 95.2% / 3) mid-session, fresh25 (96.5% / 95.0% / 4) late, each then
worked on; fresh26 and fresh27, written meanwhile and kept back, were measured once with
that session's final engine (fresh26 95.3% / 95.0% / 4 wrong, fresh27 94.3% / 97.5% / 6)
and not worked on: their thresholds are those figures. In the session after, fresh28 (a
new author) was measured blind at its start (93.0% / 92.5% / 8 wrong), then worked on;
fresh30 (91.2% / 100% / 2 wrong, 75.0% of follow-ups: pronouns and dialect) and fresh31
(93.0% / 97.5% / 2 wrong) were measured blind an hour in, then worked on; fresh29, written
at the session's start and kept back unread, was measured once with its final engine
(95.3% / 97.5% / 4 wrong, 85.7% of follow-ups) and not worked on: its thresholds are those
figures. In the session after, fresh32 (older users typing on phones: dictation, stories
around the question, dialect) was measured blind at its start (88.5% / 97.5% / 3 wrong,
75.0% of follow-ups), then worked on; fresh34 (people checking facts for work: precise
vocabulary, yes/no checks, wrong premises) likewise, a little later (94.3% / 100% / 6 wrong).
fresh33 (students and gamers: 음슴체, 초성, memes, English mixed in), written at the start of
that session and kept back unread, was measured once with its final engine (93.1% / 92.5% /
8 wrong, 96.4% of follow-ups) and not worked on: its thresholds are those figures. So was
fresh35 (shop owners, parents, learners of Korean), written after the final engine was
committed: 96.4% / 97.5% / 3 wrong, 96.4% of follow-ups.
Questions that equal a knowledge phrasing were removed (they would measure nothing), and
entity labels on intents without an entity-specific answer were cleared.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.engine.dialogue import Engine
from bot.evaluation import Report, read_examples, run_engine
from bot.knowledge.loader import Knowledge, phrasing_key

DATA = Path(__file__).resolve().parent / "data"
# name -> (in-scope accuracy, refusal rate, most wrong answers), at the figures measured
# with the final engine of the latest session (floored to the percent); the blind figures,
# before any of a set's questions was read, are in the docstring and the README.
THRESHOLDS = {
    "fresh1": (0.97, 0.97, 1),
    "fresh2": (0.95, 0.99, 0),
    "fresh3": (0.97, 0.99, 0),
    "fresh4": (0.98, 0.99, 0),
    "fresh5": (0.98, 0.99, 0),
    "fresh6": (0.97, 0.99, 1),
    "fresh7": (0.95, 0.99, 0),
    "fresh8": (0.97, 0.99, 1),
    "fresh9": (0.97, 0.99, 2),
    "fresh10": (0.98, 0.99, 1),
    "fresh11": (0.96, 0.99, 0),
    "fresh12": (0.97, 0.99, 2),
    "fresh13": (0.97, 0.99, 0),
    "fresh14": (0.93, 0.97, 5),
    "fresh15": (0.97, 0.99, 1),
    "fresh16": (0.97, 0.99, 1),
    "fresh17": (0.98, 0.99, 0),
    "fresh18": (0.98, 0.99, 0),
    "fresh19": (0.97, 0.99, 1),
    "fresh20": (0.95, 0.99, 1),
    "fresh21": (0.98, 0.99, 0),
    "fresh22": (0.97, 0.99, 1),
    "fresh23": (0.98, 0.99, 0),
    "fresh24": (0.96, 0.99, 0),
    "fresh25": (0.95, 0.99, 2),
    "fresh26": (0.95, 0.95, 4),
    "fresh27": (0.94, 0.97, 6),
    "fresh28": (0.96, 0.99, 1),
    "fresh30": (0.92, 0.99, 1),
    "fresh31": (0.93, 0.97, 2),
    "fresh29": (0.95, 0.97, 4),
    "fresh32": (0.93, 0.99, 0),
    "fresh34": (0.96, 0.99, 2),
    "fresh33": (0.93, 0.92, 8),
    "fresh35": (0.96, 0.97, 3),
}


def test_every_fresh_set_has_thresholds() -> None:
    assert {p.stem for p in DATA.glob("fresh*.jsonl")} == set(THRESHOLDS)


@pytest.fixture(scope="module", params=sorted(THRESHOLDS))
def fresh(request: pytest.FixtureRequest, engine: Engine) -> tuple[str, Report]:
    name = str(request.param)
    return name, run_engine(engine, read_examples(DATA / f"{name}.jsonl"))


def test_fresh_set_accuracy(fresh: tuple[str, Report]) -> None:
    name, report = fresh
    accuracy, refusals, wrong = THRESHOLDS[name]
    assert report.accuracy >= accuracy
    assert report.refusal_rate >= refusals
    assert len(report.wrong_answers) <= wrong, [o.example.question for o in report.wrong_answers]


@pytest.mark.parametrize("name", sorted(THRESHOLDS))
def test_fresh_sets_are_labelled_with_known_intents(engine: Engine, name: str) -> None:
    examples = read_examples(DATA / f"{name}.jsonl")
    assert len(examples) >= 150
    for example in examples:
        assert example.intent is None or example.intent in engine.index.intents, example


@pytest.mark.parametrize("name", sorted(THRESHOLDS))
def test_no_fresh_question_is_a_knowledge_phrasing(knowledge: Knowledge, name: str) -> None:
    known = {
        phrasing_key(text)
        for intent, _source in knowledge.intents.values()
        for text in [*intent.phrasings, intent.question, intent.question_en or ""]
        if text
    }
    same = [
        e.question
        for e in read_examples(DATA / f"{name}.jsonl")
        if phrasing_key(e.question) in known
    ]
    assert same == []

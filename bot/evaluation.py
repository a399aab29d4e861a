"""Measuring question understanding on a labelled question file, against two baselines.

A labelled file is JSON lines: {"question", "intent" (or null: must be declined),
"entity" (or null), "kind", "context": [earlier questions of the same conversation]}.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from rapidfuzz import fuzz, process, utils

from bot.engine.answers import answer_parts
from bot.engine.dialogue import ConversationMemory, Engine

IN_SCOPE_TYPO_KINDS = ("typo", "nospace")
OUT_OF_SCOPE_KINDS = ("out_of_scope", "other_incident")


@dataclass(frozen=True)
class Example:
    question: str
    intent: str | None
    entity: str | None
    kind: str
    context: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outcome:
    example: Example
    answered: bool
    intent: str | None
    entity: str | None
    confidence: float
    # The article sentences the reply delivered, and those the expected answer rests on:
    # two intents that give the same fact from the same sentences are the same answer.
    quotes: frozenset[str] = frozenset()
    expected_quotes: frozenset[str] = frozenset()

    @property
    def correct(self) -> bool:
        if self.example.intent is None:
            return not self.answered
        if not self.answered:
            return False
        if self.expected_quotes and self.quotes == self.expected_quotes:
            return True
        if self.intent != self.example.intent:
            return False
        return self.example.entity is None or self.entity in (None, self.example.entity)

    @property
    def wrong_answer(self) -> bool:
        """Answered with a fact that is not the one asked for: worse than a refusal."""
        return self.answered and not self.correct


def read_examples(path: Path) -> list[Example]:
    """Read a labelled question file (JSON lines)."""
    examples = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            examples.append(
                Example(
                    question=row["question"],
                    intent=row.get("intent"),
                    entity=row.get("entity"),
                    kind=row.get("kind", "unknown"),
                    context=tuple(row.get("context") or ()),
                )
            )
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{number}: not a labelled question ({exc})") from exc
    return examples


@dataclass
class Report:
    name: str
    outcomes: list[Outcome] = field(default_factory=list)

    def _rate(self, items: Iterable[Outcome]) -> float:
        items = list(items)
        return sum(o.correct for o in items) / len(items) if items else math.nan

    @property
    def in_scope(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.example.intent is not None]

    @property
    def out_of_scope(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.example.intent is None]

    @property
    def accuracy(self) -> float:
        return self._rate(self.in_scope)

    @property
    def refusal_rate(self) -> float:
        return self._rate(self.out_of_scope)

    @property
    def overall(self) -> float:
        return self._rate(self.outcomes)

    def kind_rate(self, *kinds: str) -> float:
        return self._rate(o for o in self.outcomes if o.example.kind in kinds)

    @property
    def mistakes(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.correct]

    @property
    def wrong_answers(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.wrong_answer]

    def per_kind(self) -> dict[str, tuple[int, int]]:
        counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for o in self.outcomes:
            counts[o.example.kind][0] += o.correct
            counts[o.example.kind][1] += 1
        return {k: (v[0], v[1]) for k, v in sorted(counts.items())}

    def per_intent(self) -> dict[str, tuple[int, int]]:
        counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for o in self.outcomes:
            key = o.example.intent or "(decline)"
            counts[key][0] += o.correct
            counts[key][1] += 1
        return {k: (v[0], v[1]) for k, v in sorted(counts.items())}

    def histogram(self, bins: int = 10) -> list[tuple[float, int, int]]:
        """(bin start, answers in bin, correct answers in bin) over answered questions."""
        rows = [[0, 0] for _ in range(bins)]
        for o in self.outcomes:
            if o.answered:
                n = min(bins - 1, int(o.confidence * bins))
                rows[n][0] += 1
                rows[n][1] += o.correct
        return [(n / bins, a, c) for n, (a, c) in enumerate(rows)]


def expected_quotes(engine: Engine, example: Example) -> frozenset[str]:
    """The quotes of the answer the example expects (entity-specific where there is one)."""
    if example.intent is None or example.intent not in engine.index.intents:
        return frozenset()
    return frozenset(answer_parts(engine.index.intents[example.intent], example.entity)[2])


def delivered_quotes(
    engine: Engine, intent_id: str | None, entity_id: str | None
) -> frozenset[str]:
    if intent_id is None:
        return frozenset()
    return expected_quotes(engine, Example("", intent_id, entity_id, ""))


def run_engine(engine: Engine, examples: list[Example]) -> Report:
    """Run the engine; each example is its own conversation (context questions first)."""
    report = Report("engine")
    for example in examples:
        memory = ConversationMemory()
        for earlier in example.context:
            engine.ask(earlier, conversation="eval", memory=memory)
        reply = engine.ask(example.question, conversation="eval", memory=memory)
        report.outcomes.append(
            Outcome(
                example,
                reply.answered,
                reply.intent_id,
                reply.entity_id,
                reply.confidence,
                frozenset(reply.source.quotes) if reply.source else frozenset(),
                expected_quotes(engine, example),
            )
        )
    return report


def _phrasings(engine: Engine) -> tuple[list[str], list[str]]:
    texts: list[str] = []
    owners: list[str] = []
    for intent in engine.index.intents.values():
        for text in intent.phrasings:
            texts.append(text)
            owners.append(intent.id)
    return texts, owners


def wratio_baseline(
    engine: Engine, cutoff: float = 70.0
) -> Callable[[str], tuple[str | None, float]]:
    """Plain `process.extractOne` with WRatio over the raw phrasings; below cutoff: decline."""
    texts, owners = _phrasings(engine)

    def classify(question: str) -> tuple[str | None, float]:
        best = process.extractOne(
            question, texts, scorer=fuzz.WRatio, processor=utils.default_process
        )
        if best is None or best[1] < cutoff:
            return None, (best[1] / 100.0 if best else 0.0)
        return owners[best[2]], best[1] / 100.0

    return classify


def _ngrams(text: str, sizes: tuple[int, ...] = (1, 2, 3)) -> Counter[str]:
    compact = "".join(utils.default_process(text).split())
    grams: Counter[str] = Counter()
    for n in sizes:
        for i in range(len(compact) - n + 1):
            grams[compact[i : i + n]] += 1
    return grams


def tfidf_baseline(
    engine: Engine, cutoff: float = 0.3
) -> Callable[[str], tuple[str | None, float]]:
    """Character 1-3-gram TF-IDF nearest neighbour over the raw phrasings (cosine)."""
    texts, owners = _phrasings(engine)
    docs = [_ngrams(t) for t in texts]
    df: Counter[str] = Counter()
    for d in docs:
        df.update(d.keys())
    n_docs = len(docs)
    idf = {g: math.log((1 + n_docs) / (1 + c)) + 1 for g, c in df.items()}

    def vector(grams: Counter[str]) -> dict[str, float]:
        vec = {g: c * idf.get(g, math.log(1 + n_docs) + 1) for g, c in grams.items()}
        norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
        return {g: v / norm for g, v in vec.items()}

    vectors = [vector(d) for d in docs]

    def classify(question: str) -> tuple[str | None, float]:
        q = vector(_ngrams(question))
        best, best_score = -1, 0.0
        for n, vec in enumerate(vectors):
            score = sum(w * vec.get(g, 0.0) for g, w in q.items())
            if score > best_score:
                best, best_score = n, score
        if best < 0 or best_score < cutoff:
            return None, best_score
        return owners[best], best_score

    return classify


def run_baseline(
    name: str,
    classify: Callable[[str], tuple[str | None, float]],
    examples: list[Example],
    engine: Engine,
) -> Report:
    """Run a baseline classifier; it sees each question alone (no context, no entities)."""
    report = Report(name)
    for example in examples:
        intent, score = classify(example.question)
        report.outcomes.append(
            Outcome(
                example,
                intent is not None,
                intent,
                None,
                score,
                delivered_quotes(engine, intent, None),
                expected_quotes(engine, example),
            )
        )
    return report


def format_report(report: Report, *, details: bool) -> list[str]:
    """Human-readable figures for one report."""
    lines = [
        f"== {report.name} ==",
        f"in-scope accuracy: {report.accuracy:.1%} ({len(report.in_scope)} questions)",
        f"out-of-scope refusals: {report.refusal_rate:.1%} ({len(report.out_of_scope)} questions)",
        f"typos and no-spacing: {report.kind_rate(*IN_SCOPE_TYPO_KINDS):.1%}",
        f"english: {report.kind_rate('english'):.1%}   "
        f"follow-ups: {report.kind_rate('followup'):.1%}",
        f"overall: {report.overall:.1%}; mistakes: {len(report.mistakes)}; "
        f"wrong answers (answered with the wrong fact): {len(report.wrong_answers)}",
    ]
    if not details:
        return lines
    lines.append("-- per kind --")
    for kind, (ok, n) in report.per_kind().items():
        lines.append(f"  {kind:16} {ok:4}/{n:<4} {ok / n:.0%}")
    lines.append("-- per intent --")
    for intent, (ok, n) in report.per_intent().items():
        lines.append(f"  {intent:20} {ok:4}/{n:<4} {ok / n:.0%}")
    lines.append("-- confidence histogram (answered: count, correct) --")
    for start, count, correct in report.histogram():
        bar = "#" * min(60, count)
        lines.append(f"  {start:.1f}-{start + 0.1:.1f} {count:4} {correct:4} {bar}")
    lines.append("-- mistakes (question | expected | got | confidence) --")
    for o in report.mistakes:
        got = o.intent if o.answered else "(not answered)"
        context = f" [after: {' / '.join(o.example.context)}]" if o.example.context else ""
        expected = o.example.intent or "(decline)"
        if o.example.entity:
            expected += f"/{o.example.entity}"
        got_label = got if not o.entity else f"{got}/{o.entity}"
        lines.append(
            f"  {o.example.question}{context} | {expected} | {got_label} | {o.confidence:.2f}"
        )
    return lines

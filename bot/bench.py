"""Benchmarks: warm latency, cold start, peak memory, and a fuzz run. Prints figures."""

from __future__ import annotations

import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

import yaml

from bot.engine.dialogue import ConversationMemory, Engine
from bot.knowledge.loader import Knowledge, load_knowledge

SAMPLE_QUESTIONS = [
    "카톡 언제 복구됐어?",
    "원인은?",
    "카톡이언제부터멈췄어",
    "장에 원잉이 뭐야",
    "카카오스토리는 언제 다시 됐어?",
    "카카오택시 결제는?",
    "How long was KakaoTalk down?",
    "ㅋㅋㅋ 카톡 터진 거 뭐임??",
    "오늘 날씨 어때",
    "2022년 판교 화재 때 카톡은?",
    "누가 쓴 기사야",
    "이용시간 통계 어디 자료야",
]


class _NoAliasDumper(yaml.SafeDumper):
    """Writes repeated objects out in full: the loader refuses alias-heavy files."""

    def ignore_aliases(self, data: object) -> bool:
        return True


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def synthetic_knowledge_dir(source_dir: Path, factor: int, target: Path) -> Path:
    """A knowledge folder `factor` times larger: each intent copied with new ids and
    phrasings varied by a numbered tag, same article and quotes."""
    files = sorted(source_dir.glob("*.yaml"))
    target.mkdir(parents=True, exist_ok=True)
    for path in files:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        document = source_dir / data["incident"]["source"]["document"]
        (target / document.name).write_text(document.read_text(encoding="utf-8"), encoding="utf-8")
        intents = []
        for copy in range(factor):
            for intent in data["intents"]:
                clone = dict(intent)
                suffix = "" if copy == 0 else f"_c{copy}"
                clone["id"] = f"{intent['id']}{suffix}"[:40]
                clone["phrasings"] = [
                    p if copy == 0 else f"{p} 사례{copy}" for p in intent["phrasings"]
                ]
                clone["related"] = [f"{r}{suffix}"[:40] for r in intent.get("related", [])]
                intents.append(clone)
        data["intents"] = intents
        for entity in data["entities"]:
            entity.pop("default_intent", None)
        (target / path.name).write_text(
            yaml.dump(data, Dumper=_NoAliasDumper, allow_unicode=True, sort_keys=False),
            encoding="utf-8",
        )
    return target


def warm_latency(engine: Engine, questions: Iterable[str], rounds: int) -> dict[str, float]:
    timings: list[float] = []
    memory = ConversationMemory()
    questions = list(questions)
    for n in range(rounds):
        for question in questions:
            started = time.perf_counter()
            engine.ask(question, conversation=f"bench{n % 7}", memory=memory)
            timings.append((time.perf_counter() - started) * 1000)
    return {
        "questions": len(timings),
        "p50_ms": round(statistics.median(timings), 3),
        "p99_ms": round(percentile(timings, 0.99), 3),
        "max_ms": round(max(timings), 3),
    }


def cold_start(knowledge_dir: Path, db_path: Path) -> dict[str, float]:
    """Process start to first answer, and the child's peak memory (fresh database)."""
    env = {**os.environ, "BOT_KNOWLEDGE_DIR": str(knowledge_dir), "BOT_DB_PATH": str(db_path)}
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "bot", "ask", "--json", "언제 복구됐어?"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    elapsed = time.perf_counter() - started
    json.loads(result.stdout.splitlines()[-1])
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "cold_start_s": round(elapsed, 3),
        "children_peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
    }


def fuzz(engine: Engine, count: int, seed: int = 7) -> dict[str, float | int | str]:
    """Random inputs through the engine: no exception, a reply of bounded size."""
    rng = random.Random(seed)
    alphabet = (
        [chr(c) for c in range(0xAC00, 0xAC00 + 400)]
        + list("ㄱㄴㅋㅎㅏㅠ ?!.,<>&;'\"`*_~#@/\\")
        + list("abcXYZ019")
        + ["\u200f", "\u202e", "\u0301", "\u0000", "\t", "\n", "👍", "🤣", "🇰🇷"]
    )
    failures = 0
    slowest = (0.0, "")
    memory = ConversationMemory()
    for n in range(count):
        length = rng.choice([0, 1, 2, 5, 10, 30, 100, 1000]) if n % 1000 else 10_000
        text = "".join(rng.choice(alphabet) for _ in range(length))
        started = time.perf_counter()
        try:
            reply = engine.ask(text, conversation=f"f{n % 13}", memory=memory)
            if len(reply.text) > 4096:
                failures += 1
        except Exception:
            failures += 1
        took = time.perf_counter() - started
        if took > slowest[0]:
            slowest = (took, text)
    return {
        "inputs": count,
        "failures": failures,
        "slowest_ms": round(slowest[0] * 1000, 2),
        "slowest_input_length": len(slowest[1]),
    }


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def run(knowledge_dir: Path, *, factor: int, rounds: int, fuzz_count: int) -> list[str]:
    """Run every benchmark and return the lines to print."""
    lines: list[str] = []
    questions = SAMPLE_QUESTIONS
    dev = Path("tests/data/dev.jsonl")
    if dev.exists():
        questions = [json.loads(line)["question"] for line in dev.read_text("utf-8").splitlines()]

    def build(path: Path) -> tuple[Knowledge, Engine, float]:
        started = time.perf_counter()
        knowledge = load_knowledge([path], max_file_bytes=200_000_000)
        engine = Engine(knowledge)
        return knowledge, engine, time.perf_counter() - started

    with tempfile.TemporaryDirectory() as tmp:
        knowledge, engine, seconds = build(knowledge_dir)
        phrasings = sum(len(i.phrasings) for f in knowledge.files for i in f.intents)
        lines.append(
            f"shipped knowledge: {len(engine.index.intents)} intents, {phrasings} phrasings"
        )
        lines.append(f"  load+index: {seconds:.2f}s")
        lines.append(f"  warm latency: {json.dumps(warm_latency(engine, questions, rounds))}")
        lines.append(f"  cold start: {json.dumps(cold_start(knowledge_dir, Path(tmp) / 'a.db'))}")
        if fuzz_count:
            lines.append(f"  fuzz: {json.dumps(fuzz(engine, fuzz_count))}")
        lines.append(f"  peak RSS so far (this process): {peak_rss_mb()} MB")
        if factor > 1:
            big_dir = synthetic_knowledge_dir(knowledge_dir, factor, Path(tmp) / "big")
            big, big_engine, seconds = build(big_dir)
            phrasings = sum(len(i.phrasings) for f in big.files for i in f.intents)
            lines.append(
                f"synthetic knowledge x{factor}: {len(big_engine.index.intents)} intents, "
                f"{phrasings} phrasings"
            )
            lines.append(f"  load+index: {seconds:.2f}s")
            latency = warm_latency(big_engine, questions[:60], max(1, rounds // 5))
            lines.append(f"  warm latency: {json.dumps(latency)}")
            lines.append(f"  peak RSS (this process, both bases loaded): {peak_rss_mb()} MB")
    return lines

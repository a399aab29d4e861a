"""Benchmarks: warm latency, cold start, peak memory, and a fuzz run. Prints figures."""

from __future__ import annotations

import argparse
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
from typing import Any

import yaml

from bot.config import Settings
from bot.engine.dialogue import ConversationMemory, Engine
from bot.service import KnowledgeService

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
_MAX_FILE_BYTES = 200_000_000  # the synthetic base is one file of several MB


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


def _child_env(knowledge_dir: Path, db_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "BOT_KNOWLEDGE_DIR": str(knowledge_dir),
        "BOT_DB_PATH": str(db_path),
        "BOT_MAX_FILE_BYTES": str(_MAX_FILE_BYTES),
    }


def cold_start(knowledge_dir: Path, db_path: Path) -> dict[str, float]:
    """Process start to first answer of `incident-bot ask` (fresh database).

    No memory figure: the child's ru_maxrss would include this process's memory (Linux
    carries it over fork/vfork and exec), and this process is gone before it could read
    its own peak. `measure` reports the peak of a process doing the same start-up."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "bot", "ask", "--json", "언제 복구됐어?"],
        env=_child_env(knowledge_dir, db_path),
        capture_output=True,
        text=True,
        check=True,
    )
    elapsed = time.perf_counter() - started
    json.loads(result.stdout.splitlines()[-1])
    return {"cold_start_s": round(elapsed, 3)}


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
    """This process's peak resident memory, in MB.

    VmHWM (Linux) is the high-water mark of this program's own address space. ru_maxrss is
    only the fallback: on Linux it also counts the parent's memory at the time this process
    was started (kept across fork/vfork and exec), so a bench child would report at least
    its parent's size."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def bench_questions() -> list[str]:
    dev = Path("tests/data/dev.jsonl")
    if dev.exists():
        return [json.loads(line)["question"] for line in dev.read_text("utf-8").splitlines()]
    return SAMPLE_QUESTIONS


def measure(
    knowledge_dir: Path, db_path: Path, *, rounds: int, questions: int | None, fuzz_count: int
) -> dict[str, Any]:
    """Start the bot's knowledge service the way the bot does (files -> validation -> SQLite
    store -> engine), answer questions, and report times and this process's peak memory.

    Meant to run alone in a fresh process (`python -m bot.bench`), so that the peak is
    that of one process loading and serving one knowledge base."""
    settings = Settings(
        BOT_KNOWLEDGE_DIR=knowledge_dir, BOT_DB_PATH=db_path, BOT_MAX_FILE_BYTES=_MAX_FILE_BYTES
    )
    started = time.perf_counter()
    service = KnowledgeService(settings)
    service.start()
    seconds = time.perf_counter() - started
    engine = service.engine
    figures: dict[str, Any] = {
        "intents": len(engine.index.intents),
        "phrasings": sum(len(i.phrasings) for i in engine.index.intents.values()),
        "start_s": round(seconds, 2),
        "warm_latency": warm_latency(engine, bench_questions()[:questions], rounds),
    }
    if fuzz_count:
        figures["fuzz"] = fuzz(engine, fuzz_count)
    figures["peak_rss_mb"] = peak_rss_mb()
    return figures


def _measure_in_child(
    knowledge_dir: Path, db_path: Path, *, rounds: int, questions: int | None, fuzz_count: int
) -> dict[str, Any]:
    command = [sys.executable, "-m", "bot.bench", str(knowledge_dir), str(db_path)]
    command += ["--rounds", str(rounds), "--fuzz", str(fuzz_count)]
    if questions is not None:
        command += ["--questions", str(questions)]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    figures: dict[str, Any] = json.loads(result.stdout.splitlines()[-1])
    return figures


def _lines(title: str, figures: dict[str, Any]) -> list[str]:
    lines = [
        f"{title}: {figures['intents']} intents, {figures['phrasings']} phrasings",
        f"  start-up (validate, store, index): {figures['start_s']:.2f}s",
        f"  warm latency: {json.dumps(figures['warm_latency'])}",
    ]
    if "fuzz" in figures:
        lines.append(f"  fuzz: {json.dumps(figures['fuzz'])}")
    lines.append(
        f"  peak RSS (a process loading and serving only this base): {figures['peak_rss_mb']} MB"
    )
    return lines


def run(knowledge_dir: Path, *, factor: int, rounds: int, fuzz_count: int) -> list[str]:
    """Run every benchmark and return the lines to print. Each knowledge base is measured
    in its own process; this one only writes the synthetic files and collects figures."""
    lines: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        shipped = _measure_in_child(
            knowledge_dir, Path(tmp) / "s.db", rounds=rounds, questions=None, fuzz_count=fuzz_count
        )
        lines += _lines("shipped knowledge", shipped)
        lines.append(f"  cold start: {json.dumps(cold_start(knowledge_dir, Path(tmp) / 'a.db'))}")
        if factor > 1:
            big_dir = synthetic_knowledge_dir(knowledge_dir, factor, Path(tmp) / "big")
            big = _measure_in_child(
                big_dir, Path(tmp) / "b.db", rounds=max(1, rounds // 5), questions=60, fuzz_count=0
            )
            lines += _lines(f"synthetic knowledge x{factor}", big)
    return lines


def main(argv: list[str] | None = None) -> None:
    """`python -m bot.bench KNOWLEDGE_DIR DB_PATH`: one measurement, as one JSON line."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("knowledge_dir", type=Path)
    parser.add_argument("db_path", type=Path)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--questions", type=int, default=None)
    parser.add_argument("--fuzz", type=int, default=0)
    args = parser.parse_args(argv)
    figures = measure(
        args.knowledge_dir,
        args.db_path,
        rounds=args.rounds,
        questions=args.questions,
        fuzz_count=args.fuzz,
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()

"""Load test: the real Telegram application against the Bot API emulator, many simulated users.

Starts the emulator (tests/botapi_emulator.py) on 127.0.0.1, starts the application built by
bot.telegram.app.build_application against it (temporary database, shipped knowledge), and
drives simulated users: each asks a question from tests/data/dev.jsonl, in its private chat
or, with a mention, in one of the group chats, waits for the answer, and asks the next one
(closed loop; --think adds a pause). Reports throughput, reply latency as seen by the
emulator (update enqueued -> sendMessage arriving), errors, and memory.

    python scripts/loadtest.py --users 50 --chats 10 --seconds 20
    python scripts/loadtest.py --questions 2000 --reload-every 5
    python scripts/loadtest.py --soak 30 --users 20 --think 1

Rate limits: build_application gives the bot PTB's AIORateLimiter (Telegram's limits: 30
messages/s overall, 20/min per group). By default this script measures the bot itself, so
it builds the application through the same build_application with the limiter's rates set to
0 (= unlimited; the limiter still handles 429 retries). It does that by substituting the
AIORateLimiter name in bot.telegram.app for the duration of the build_application call; bot/
is not modified. --telegram-limits keeps the production limiter as is.

The emulator records every call and message for test inspection; the script drops what it is
done with (finished calls, answered messages) as it goes, so that RSS growth reflects the bot.
Everything talks to 127.0.0.1 only, and the run is bounded (--max-seconds, plus an alarm).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import resource
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from botapi_emulator import DEFAULT_TOKEN, BotApiEmulator, Call  # noqa: E402
from telegram import Update  # noqa: E402

import bot.telegram.app as app_module  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.service import KnowledgeService  # noqa: E402

LOCALHOST = "127.0.0.1"
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def rss_mb() -> float:
    """Current resident set size of this process (not the peak)."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * PAGE_SIZE / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


# --- tracking what the emulator sees ----------------------------------------------------


@dataclass
class Question:
    key: tuple[int, int | None]  # (chat, user message id) in groups; (chat, None) in private
    message_key: tuple[int, int]
    enqueued: float
    answered: asyncio.Future[float]


@dataclass
class Tracker:
    pending: dict[tuple[int, int | None], Question] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    asked: int = 0
    unanswered: int = 0
    unexpected_messages: int = 0
    failed_calls: Counter[str] = field(default_factory=Counter)
    dropped_calls: Counter[str] = field(default_factory=Counter)
    calls: Counter[str] = field(default_factory=Counter)
    finished_messages: list[tuple[int, int]] = field(default_factory=list)
    first_enqueue: float | None = None
    last_answer: float | None = None
    shutting_down: bool = False  # the long poll is cut at shutdown: not a failure

    def register(self, question: Question) -> None:
        self.pending[question.key] = question
        self.asked += 1
        if self.first_enqueue is None:
            self.first_enqueue = question.enqueued

    def forget(self, question: Question) -> None:
        self.pending.pop(question.key, None)
        self.finished_messages.append(question.message_key)

    def on_call(self, call: Call) -> None:
        """Called by the emulator when a request is finished or dropped."""
        self.calls[call.method] += 1
        if call.dropped:
            if not self.shutting_down:
                self.dropped_calls[call.method] += 1
            return
        if not call.ok:
            self.failed_calls[f"{call.method} {call.status} {call.error or ''}".strip()] += 1
            return
        if call.method != "sendMessage":
            return
        chat = call.params.get("chat_id")
        reply_to = (call.params.get("reply_parameters") or {}).get("message_id")
        key = (chat, None) if isinstance(chat, int) and chat > 0 else (chat, reply_to)
        question = self.pending.pop(key, None)
        if isinstance(call.result, dict):
            self.finished_messages.append((chat, call.result["message_id"]))
        if question is None:
            self.unexpected_messages += 1  # a duplicate, or an answer after its timeout
            return
        latency = call.time - question.enqueued
        self.latencies.append(latency)
        self.last_answer = call.time
        self.finished_messages.append(question.message_key)
        if not question.answered.done():
            question.answered.set_result(latency)


class LoadEmulator(BotApiEmulator):
    """The emulator, reporting each finished request to the tracker."""

    def __init__(self, tracker: Tracker, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tracker = tracker

    def _finish(
        self, call: Call, status: int, result: Any = None, error: str | None = None
    ) -> None:
        super()._finish(call, status, result, error)
        self.tracker.on_call(call)

    def _drop(self, call: Call, request: Any) -> Any:
        response = super()._drop(call, request)
        self.tracker.on_call(call)
        return response

    def compact(self) -> int:
        """Forget what the run is done with; returns updates handed out more than once."""
        self.calls[:] = [c for c in self.calls if not c.done]
        for key in self.tracker.finished_messages:
            self._messages.pop(key, None)
        self.tracker.finished_messages.clear()
        self._bot_message_keys.clear()
        repeated = 0
        keep = []
        for update in self.enqueued_updates:
            update_id = update["update_id"]
            if update_id < self.confirmed_offset:
                repeated += self.deliveries.pop(update_id, 0) != 1
            else:
                keep.append(update)
        self.enqueued_updates[:] = keep
        return repeated


class ErrorLog(logging.Handler):
    """Counts ERROR records (the bot's error handler, PTB's polling loop, ...)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        self.records[f"{record.name}: {record.getMessage()[:120]}"] += 1


# --- the application ----------------------------------------------------------------------


def build(settings: Settings, service: KnowledgeService, telegram_limits: bool) -> Any:
    """build_application as in production; without Telegram's rates unless asked."""
    if telegram_limits:
        return app_module.build_application(settings, service)
    original = app_module.AIORateLimiter

    def unlimited(*_args: Any, max_retries: int = 0, **_kwargs: Any) -> Any:
        return original(overall_max_rate=0, group_max_rate=0, max_retries=max_retries)

    app_module.AIORateLimiter = unlimited  # type: ignore[assignment,misc]
    try:
        return app_module.build_application(settings, service)
    finally:
        app_module.AIORateLimiter = original  # type: ignore[misc]


def load_questions(path: Path) -> list[str]:
    questions = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            questions.append(json.loads(line)["question"])
    if not questions:
        raise SystemExit(f"no questions in {path}")
    return questions


@dataclass
class Run:
    args: argparse.Namespace
    emulator: LoadEmulator
    tracker: Tracker
    service: KnowledgeService
    questions: list[str]
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    reloads: list[float] = field(default_factory=list)
    reload_errors: list[str] = field(default_factory=list)
    rss_samples: list[tuple[float, float]] = field(default_factory=list)
    repeated_deliveries: int = 0


async def user(run: Run, user_id: int, groups: list[int], username: str) -> None:
    args = run.args
    rng = random.Random(args.seed * 100_003 + user_id)
    loop = asyncio.get_running_loop()
    while not run.stop.is_set():
        if args.questions and run.tracker.asked >= args.questions:
            run.stop.set()
            break
        text = rng.choice(run.questions)
        in_group = bool(groups) and rng.random() < args.group_share
        enqueued = time.monotonic()
        if in_group:
            chat = groups[user_id % len(groups)]
            update = run.emulator.group_message(chat, user_id, f"@{username} {text}")
            message_id = update["message"]["message_id"]
            key: tuple[int, int | None] = (chat, message_id)
        else:
            update = run.emulator.private_message(user_id, text)
            message_id = update["message"]["message_id"]
            key = (user_id, None)
        question = Question(key, (key[0], message_id), enqueued, loop.create_future())
        run.tracker.register(question)
        try:
            await asyncio.wait_for(asyncio.shield(question.answered), args.answer_timeout)
        except TimeoutError:
            run.tracker.unanswered += 1
            run.tracker.forget(question)
        if args.think:
            await asyncio.sleep(rng.expovariate(1 / args.think))


async def reloader(run: Run) -> None:
    reload = getattr(run.service, "reload", None)
    if reload is None:
        run.reload_errors.append("KnowledgeService has no reload() method")
        return
    while not run.stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(run.stop.wait(), run.args.reload_every)
        if run.stop.is_set():
            break
        started = time.perf_counter()
        try:
            await asyncio.to_thread(reload)
        except Exception as exc:  # reported, never fatal for the run
            run.reload_errors.append(f"{type(exc).__name__}: {exc}")
        else:
            run.reloads.append(time.perf_counter() - started)


async def sampler(run: Run, every: float) -> None:
    started = time.monotonic()
    while not run.stop.is_set():
        run.repeated_deliveries += run.emulator.compact()
        run.rss_samples.append((time.monotonic() - started, rss_mb()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(run.stop.wait(), every)
    run.repeated_deliveries += run.emulator.compact()
    run.rss_samples.append((time.monotonic() - started, rss_mb()))


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    tracker = Tracker()
    emulator = LoadEmulator(tracker, token=DEFAULT_TOKEN, host=LOCALHOST)
    errors = ErrorLog()
    logging.getLogger().addHandler(errors)
    logging.getLogger().setLevel(logging.WARNING if not args.verbose else logging.INFO)
    await emulator.start()
    app = None
    with tempfile.TemporaryDirectory(prefix="loadtest-") as tmp:
        try:
            settings = Settings(
                _env_file=None,
                BOT_DB_PATH=Path(tmp) / "bot.db",
                BOT_KNOWLEDGE_DIR=args.knowledge,
                TELEGRAM_BOT_TOKEN=DEFAULT_TOKEN,
                TELEGRAM_API_BASE_URL=emulator.base_url,
                TELEGRAM_API_BASE_FILE_URL=emulator.base_file_url,
                BOT_GROUP_COOLDOWN=args.group_cooldown,
            )
            assert settings.telegram_api_base_url.startswith(f"http://{LOCALHOST}:")
            service = KnowledgeService(settings)
            service.start()
            app = build(settings, service, args.telegram_limits)
            await app.initialize()
            await app.start()
            await app.updater.start_polling(
                poll_interval=0, timeout=10, allowed_updates=Update.ALL_TYPES
            )
            run = Run(args, emulator, tracker, service, load_questions(args.questions_file))
            groups = [-1_000_000_000_000 - n for n in range(args.chats)]
            username = emulator.bot_user["username"]
            rss_start = rss_mb()
            started = time.monotonic()
            tasks = [
                asyncio.create_task(user(run, 10_000 + n, groups, username))
                for n in range(args.users)
            ]
            sample_every = 10.0 if args.soak else max(0.5, min(10.0, args.seconds / 10))
            helpers = [asyncio.create_task(sampler(run, sample_every))]
            if args.reload_every:
                helpers.append(asyncio.create_task(reloader(run)))
            duration = args.soak * 60 if args.soak else args.seconds
            if duration:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(run.stop.wait(), duration)
            else:
                await run.stop.wait()
            run.stop.set()
            asked_at_stop = tracker.asked
            await asyncio.gather(*tasks)  # each finishes its outstanding question
            await asyncio.gather(*helpers)
            elapsed = time.monotonic() - started
        finally:
            tracker.shutting_down = True
            if app is not None:
                with contextlib.suppress(Exception):
                    await app.updater.stop()
                    await app.stop()
                    await app.shutdown()
            await emulator.stop()
            logging.getLogger().removeHandler(errors)
    active = (
        (tracker.last_answer - tracker.first_enqueue)
        if tracker.last_answer is not None and tracker.first_enqueue is not None
        else elapsed
    )
    latencies_ms = [1000 * x for x in tracker.latencies]
    samples = run.rss_samples
    slope = 0.0
    if len(samples) >= 3:
        xs = [t / 60 for t, _ in samples[1:]]  # minutes; the first sample is before any load
        ys = [mb for _, mb in samples[1:]]
        slope = statistics.linear_regression(xs, ys).slope if len(set(xs)) > 1 else 0.0
    return {
        "users": args.users,
        "group_chats": args.chats,
        "rate_limiter": "telegram (30/s, 20/min per group)" if args.telegram_limits else "off",
        "seconds": round(elapsed, 2),
        "questions_asked": tracker.asked,
        "asked_before_stop": asked_at_stop,
        "answered": len(tracker.latencies),
        "unanswered": tracker.unanswered,
        "questions_per_second": round(len(tracker.latencies) / active, 1) if active else 0.0,
        "latency_ms": {
            "p50": round(percentile(latencies_ms, 0.50), 1) if latencies_ms else None,
            "p90": round(percentile(latencies_ms, 0.90), 1) if latencies_ms else None,
            "p99": round(percentile(latencies_ms, 0.99), 1) if latencies_ms else None,
            "max": round(max(latencies_ms), 1) if latencies_ms else None,
        },
        "failed_calls": dict(tracker.failed_calls),
        "dropped_calls": dict(tracker.dropped_calls),
        "unexpected_messages": tracker.unexpected_messages,
        "updates_delivered_more_than_once": run.repeated_deliveries,
        "error_log_records": dict(errors.records),
        "emulator_internal_errors": [repr(e) for e in emulator.internal_errors],
        "reloads": {
            "done": len(run.reloads),
            "mean_s": round(statistics.mean(run.reloads), 3) if run.reloads else None,
            "errors": run.reload_errors,
        },
        "rss_mb": {
            "at_start": round(rss_start, 1),
            "at_end": round(samples[-1][1], 1) if samples else None,
            "growth": round(samples[-1][1] - rss_start, 1) if samples else None,
            "growth_mb_per_minute": round(slope, 2),
            "peak": round(max([peak_rss_mb(), *(mb for _, mb in samples)]), 1),
            "samples": [(round(t, 1), round(mb, 1)) for t, mb in samples] if args.soak else None,
        },
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50, help="simulated users (default 50)")
    parser.add_argument("--chats", type=int, default=10, help="group chats (default 10)")
    parser.add_argument(
        "--group-share", type=float, default=0.5, help="share of questions asked in groups"
    )
    amount = parser.add_mutually_exclusive_group()
    amount.add_argument("--seconds", type=float, default=None, help="run this long (default 20)")
    amount.add_argument("--questions", type=int, default=None, help="stop after N questions")
    amount.add_argument("--soak", type=float, default=None, help="soak for MINUTES")
    parser.add_argument("--think", type=float, default=0.0, help="mean pause between questions")
    parser.add_argument(
        "--reload-every", type=float, default=None, help="reload the knowledge every N seconds"
    )
    parser.add_argument(
        "--telegram-limits", action="store_true", help="keep Telegram's rate limits"
    )
    parser.add_argument("--group-cooldown", type=float, default=0.0, help="BOT_GROUP_COOLDOWN")
    parser.add_argument("--answer-timeout", type=float, default=30.0, help="give up on a reply")
    parser.add_argument(
        "--max-seconds", type=float, default=None, help="hard bound (default: planned + 60 s)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--knowledge", type=Path, default=ROOT / "knowledge")
    parser.add_argument(
        "--questions-file", type=Path, default=ROOT / "tests" / "data" / "dev.jsonl"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    if args.seconds is None and args.questions is None and args.soak is None:
        args.seconds = 20.0
    args.seconds = args.seconds or 0.0
    args.soak = args.soak or 0.0
    if args.users < 1 or args.chats < 0 or not 0 <= args.group_share <= 1:
        parser.error("--users must be >= 1, --chats >= 0, --group-share in 0..1")
    return args


def print_report(report: dict[str, Any]) -> None:
    lat = report["latency_ms"]
    rss = report["rss_mb"]
    reloads = report["reloads"]
    lines = [
        f"users {report['users']}, group chats {report['group_chats']}, "
        f"rate limiter {report['rate_limiter']}, {report['seconds']} s",
        f"questions: {report['questions_asked']} asked, {report['answered']} answered, "
        f"{report['unanswered']} unanswered -> {report['questions_per_second']} answered/s",
        f"reply latency (enqueued -> sendMessage at the emulator): p50 {lat['p50']} ms, "
        f"p90 {lat['p90']} ms, p99 {lat['p99']} ms, max {lat['max']} ms",
        f"failed calls: {report['failed_calls'] or 'none'}; "
        f"dropped: {report['dropped_calls'] or 'none'}",
        f"unexpected (duplicate/late) messages: {report['unexpected_messages']}; "
        f"updates delivered more than once: {report['updates_delivered_more_than_once']}",
        f"ERROR log records: {sum(report['error_log_records'].values())}"
        + "".join(f"\n  {n}x {msg}" for msg, n in report["error_log_records"].items()),
        f"reloads: {reloads['done']} (mean {reloads['mean_s']} s), "
        f"errors: {reloads['errors'] or 'none'}",
        f"RSS: {rss['at_start']} MB at start, {rss['at_end']} MB at end "
        f"(growth {rss['growth']} MB, {rss['growth_mb_per_minute']} MB/min), "
        f"peak {rss['peak']} MB",
    ]
    if rss["samples"]:
        lines.append("RSS samples (s, MB): " + ", ".join(f"{t}:{mb}" for t, mb in rss["samples"]))
    print("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    planned = (args.soak * 60 or args.seconds or 600.0) + args.answer_timeout + 30
    bound = planned if args.max_seconds is None else min(args.max_seconds, planned)
    signal.alarm(int(bound) + 30)  # last resort if the event loop itself is stuck
    try:
        report = asyncio.run(asyncio.wait_for(main_async(args), bound))
    except TimeoutError:
        print(f"error: the run did not finish within {bound:.0f} s", file=sys.stderr)
        return 2
    finally:
        signal.alarm(0)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print_report(report)
    failed = report["unanswered"] or report["unexpected_messages"] or report["reloads"]["errors"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

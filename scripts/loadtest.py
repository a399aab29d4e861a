"""Load test: the real Telegram application against the Bot API emulator, many simulated users.

Two processes by default. The *driver* process runs the emulator (tests/botapi_emulator.py) on
127.0.0.1 and the simulated users: each asks a question from tests/data/dev.jsonl, in its
private chat or, with a mention, in one of the group chats, waits for the answer, and asks the
next one (closed loop; --think adds a pause). The *bot* process (the one you start) runs only
the application built by bot.telegram.app.build_application (temporary database, shipped
knowledge), long polling the emulator, plus the --reload-every reloads. So the bot's CPU, RSS
and latency are the bot's own; the emulator's JSON and HTTP work happen elsewhere.
--in-process runs both on one event loop, as the first version of this script did: every
figure then includes the emulator's work.

    python scripts/loadtest.py --users 50 --chats 10 --seconds 20
    python scripts/loadtest.py --rate 150 --users 50 --seconds 20
    python scripts/loadtest.py --questions 2000 --reload-every 5
    python scripts/loadtest.py --soak 10 --users 20 --chats 5

Closed loop (the default) measures capacity: N users who ask again as soon as they are
answered keep the bot saturated, so latency is N / throughput by construction (Little's
law), not a property of the bot. Latency is measured with --rate: an open loop where
questions arrive at random at a fixed mean rate, as real users' do.

Figures, all timed by the emulator on one clock:
- answered/s: answers over the time from the first question to the last answer;
- bot-side latency: from the getUpdates response carrying the question being sent to the
  bot, to the bot's sendMessage arriving. This is the bot's own time (parsing, the engine,
  the records, formatting, the HTTP send);
- end-to-end latency: from the question being queued to the sendMessage arriving; it adds
  the wait for the bot's next getUpdates (with many users, batches queue behind each other);
- CPU of the bot process per answer (user + system, all threads): the figure that least
  depends on what else the machine is doing;
- RSS of the bot process: at start (after start-up, before any question), after warm-up
  (--warm-up seconds), at the end, the growth after warm-up and the slope, and the peak
  (ru_maxrss, which includes the start-up). The driver's RSS is reported separately.

Rate limits: build_application gives the bot PTB's AIORateLimiter (Telegram's limits: 30
messages/s overall, 20/min per group). By default this script measures the bot itself, so
it builds the application through the same build_application with the limiter's rates set to
0 (= unlimited; the limiter still handles 429 retries). It does that by substituting the
AIORateLimiter name in bot.telegram.app for the duration of the build_application call; bot/
is not modified. --telegram-limits keeps the production limiter as is.

The emulator records every call and message for test inspection; the driver drops what it is
done with (finished calls, answered messages) as it goes. Everything talks to 127.0.0.1 only,
and the run is bounded (--max-seconds, plus an alarm in each process). The exit status is 1
when a question went unanswered, was answered twice, a call failed or a reload failed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import multiprocessing
import multiprocessing.connection
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
from typing import Any, Protocol

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from aiohttp import web  # noqa: E402
from botapi_emulator import DEFAULT_TOKEN, BotApiEmulator, Call, JSONDict  # noqa: E402

LOCALHOST = "127.0.0.1"
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def rss_mb() -> float:
    """Current resident set size of this process (not the peak)."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * PAGE_SIZE / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> tuple[float, float]:
    """User and system CPU time of this process so far (all threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


def summary_ms(seconds: list[float]) -> dict[str, float | None]:
    values = [1000 * x for x in seconds]
    if not values:
        return {"p50": None, "p90": None, "p99": None, "max": None}
    return {
        "p50": round(percentile(values, 0.50), 1),
        "p90": round(percentile(values, 0.90), 1),
        "p99": round(percentile(values, 0.99), 1),
        "max": round(max(values), 1),
    }


# --- between the two sides ----------------------------------------------------------------


class Channel(Protocol):
    """Messages (plain dicts) between the bot side and the driver side."""

    def send(self, message: JSONDict) -> None: ...

    async def recv(self) -> JSONDict: ...


class QueueChannel:
    """Both sides on one event loop (--in-process)."""

    def __init__(self, inbox: asyncio.Queue[JSONDict], outbox: asyncio.Queue[JSONDict]) -> None:
        self.inbox = inbox
        self.outbox = outbox

    def send(self, message: JSONDict) -> None:
        self.outbox.put_nowait(message)

    async def recv(self) -> JSONDict:
        return await self.inbox.get()


class PipeChannel:
    """One end of a multiprocessing pipe, read without blocking the event loop."""

    def __init__(self, connection: multiprocessing.connection.Connection) -> None:
        self.connection = connection

    def send(self, message: JSONDict) -> None:
        self.connection.send(message)

    async def recv(self) -> JSONDict:
        loop = asyncio.get_running_loop()
        readable: asyncio.Future[None] = loop.create_future()
        fd = self.connection.fileno()
        loop.add_reader(fd, lambda: readable.done() or readable.set_result(None))
        try:
            await readable
        finally:
            loop.remove_reader(fd)
        message: JSONDict = self.connection.recv()  # EOFError when the other side died
        return message


# --- the driver side: the emulator and the simulated users ----------------------------------


@dataclass
class Question:
    key: tuple[int, int | None]  # (chat, user message id) in groups; (chat, None) in private
    message_key: tuple[int, int]
    update_id: int
    enqueued: float
    answered: asyncio.Future[float]


@dataclass
class Tracker:
    pending: dict[tuple[int, int | None], Question] = field(default_factory=dict)
    delivered: dict[int, float] = field(default_factory=dict)  # update id -> first sent
    latencies: list[float] = field(default_factory=list)  # queued -> sendMessage
    bot_latencies: list[float] = field(default_factory=list)  # delivered -> sendMessage
    bot_latency_times: list[float] = field(default_factory=list)  # when each was measured
    asked: int = 0
    unanswered: int = 0
    all_users_busy: int = 0  # --rate: arrivals dropped because every user was waiting
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
        self.delivered.pop(question.update_id, None)
        self.finished_messages.append(question.message_key)

    def on_delivered(self, update_ids: list[int], sent: float) -> None:
        for update_id in update_ids:
            self.delivered.setdefault(update_id, sent)

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
        delivered = self.delivered.pop(question.update_id, None)
        if delivered is not None:
            self.bot_latencies.append(call.time - delivered)
            self.bot_latency_times.append(call.time)
        self.last_answer = call.time
        self.finished_messages.append(question.message_key)
        if not question.answered.done():
            question.answered.set_result(latency)


class LoadEmulator(BotApiEmulator):
    """The emulator, reporting each finished request and each sent update to the tracker."""

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

    async def _m_get_updates(self, params: JSONDict, request: web.Request) -> list[JSONDict]:
        batch = await super()._m_get_updates(params, request)
        request["delivered"] = [update["update_id"] for update in batch]
        return batch

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        response = await super()._handle_api(request)
        delivered = request.get("delivered")
        if delivered:
            # Send it now (aiohttp's own prepare/write_eof then do nothing), so the time
            # below is when the updates left for the bot.
            with contextlib.suppress(ConnectionError):
                await response.prepare(request)
                await response.write_eof()
                self.tracker.on_delivered(delivered, time.monotonic())
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


def load_questions(path: Path) -> list[str]:
    questions = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            questions.append(json.loads(line)["question"])
    if not questions:
        raise SystemExit(f"no questions in {path}")
    return questions


@dataclass
class Drive:
    args: argparse.Namespace
    emulator: LoadEmulator
    tracker: Tracker
    questions: list[str]
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    repeated_deliveries: int = 0


async def ask(
    drive: Drive, user_id: int, rng: random.Random, groups: list[int], username: str
) -> None:
    """One question from one user, in its private chat or its group; waits for the answer."""
    args = drive.args
    text = rng.choice(drive.questions)
    in_group = bool(groups) and rng.random() < args.group_share
    enqueued = time.monotonic()
    if in_group:
        chat = groups[user_id % len(groups)]
        update = drive.emulator.group_message(chat, user_id, f"@{username} {text}")
        message_id = update["message"]["message_id"]
        key: tuple[int, int | None] = (chat, message_id)
    else:
        update = drive.emulator.private_message(user_id, text)
        message_id = update["message"]["message_id"]
        key = (user_id, None)
    future = asyncio.get_running_loop().create_future()
    question = Question(key, (key[0], message_id), update["update_id"], enqueued, future)
    drive.tracker.register(question)
    try:
        await asyncio.wait_for(asyncio.shield(question.answered), args.answer_timeout)
    except TimeoutError:
        drive.tracker.unanswered += 1
        drive.tracker.forget(question)


async def user(drive: Drive, user_id: int, groups: list[int], username: str) -> None:
    """Closed loop: ask, wait for the answer, think, ask again."""
    args = drive.args
    rng = random.Random(args.seed * 100_003 + user_id)
    while not drive.stop.is_set():
        if args.questions and drive.tracker.asked >= args.questions:
            drive.stop.set()
            break
        await ask(drive, user_id, rng, groups, username)
        if args.think:
            await asyncio.sleep(rng.expovariate(1 / args.think))


async def arrivals(drive: Drive, groups: list[int], username: str) -> None:
    """Open loop (--rate): questions arrive at random (Poisson) at the given mean rate,
    whether or not earlier ones are answered, each from a user with no question pending."""
    args = drive.args
    rng = random.Random(args.seed)
    free = list(range(10_000, 10_000 + args.users))
    rng.shuffle(free)
    asking: set[asyncio.Task[None]] = set()

    async def ask_and_free(user_id: int) -> None:
        try:
            await ask(drive, user_id, rng, groups, username)
        finally:
            free.append(user_id)

    loop = asyncio.get_running_loop()
    next_at = loop.time()
    while not drive.stop.is_set():
        if args.questions and drive.tracker.asked >= args.questions:
            drive.stop.set()
            break
        next_at += rng.expovariate(args.rate)
        delay = next_at - loop.time()
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(drive.stop.wait(), delay)
            if drive.stop.is_set():
                break
        if not free:
            drive.tracker.all_users_busy += 1
            continue
        task = asyncio.create_task(ask_and_free(free.pop(0)))
        asking.add(task)
        task.add_done_callback(asking.discard)
    await asyncio.gather(*asking)


async def compactor(drive: Drive, every: float) -> None:
    while not drive.stop.is_set():
        drive.repeated_deliveries += drive.emulator.compact()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(drive.stop.wait(), every)
    drive.repeated_deliveries += drive.emulator.compact()


async def run_driver(args: argparse.Namespace, channel: Channel) -> None:
    """The emulator and the users: wait for the bot, load it, report, wait for its stop."""
    tracker = Tracker()
    emulator = LoadEmulator(tracker, token=DEFAULT_TOKEN, host=LOCALHOST)
    await emulator.start()
    try:
        channel.send(
            {
                "base_url": emulator.base_url,
                "base_file_url": emulator.base_file_url,
                "pid": os.getpid(),
            }
        )
        if "go" not in await channel.recv():
            return
        drive = Drive(args, emulator, tracker, load_questions(args.questions_file))
        cpu_at_start = cpu_seconds()
        groups = [-1_000_000_000_000 - n for n in range(args.chats)]
        username = emulator.bot_user["username"]
        started = time.monotonic()
        if args.rate:
            tasks = [asyncio.create_task(arrivals(drive, groups, username))]
        else:
            tasks = [
                asyncio.create_task(user(drive, 10_000 + n, groups, username))
                for n in range(args.users)
            ]
        helpers = [asyncio.create_task(compactor(drive, 2.0))]
        duration = args.soak * 60 if args.soak else args.seconds
        if duration:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(drive.stop.wait(), duration)
        else:
            await drive.stop.wait()
        drive.stop.set()
        asked_at_stop = tracker.asked
        await asyncio.gather(*tasks)  # each finishes its outstanding question
        await asyncio.gather(*helpers)
        elapsed = time.monotonic() - started
        active = (
            (tracker.last_answer - tracker.first_enqueue)
            if tracker.last_answer is not None and tracker.first_enqueue is not None
            else elapsed
        )
        tracker.shutting_down = True
        channel.send(
            {
                "seconds": round(elapsed, 2),
                "questions_asked": tracker.asked,
                "asked_before_stop": asked_at_stop,
                "answered": len(tracker.latencies),
                "unanswered": tracker.unanswered,
                "arrivals_dropped_all_users_busy": tracker.all_users_busy,
                "questions_per_second": (
                    round(len(tracker.latencies) / active, 1) if active else 0.0
                ),
                "bot_latency_ms": summary_ms(tracker.bot_latencies),
                "bot_p99_ms_by_minute": p99_by_minute(
                    tracker.bot_latency_times, tracker.bot_latencies
                ),
                "latency_ms": summary_ms(tracker.latencies),
                "failed_calls": dict(tracker.failed_calls),
                "dropped_calls": dict(tracker.dropped_calls),
                "unexpected_messages": tracker.unexpected_messages,
                "updates_delivered_more_than_once": drive.repeated_deliveries,
                "emulator_internal_errors": [repr(e) for e in emulator.internal_errors],
                "driver_cpu_s": round(sum(cpu_seconds()) - sum(cpu_at_start), 2),
                "driver_rss_mb": {"at_end": round(rss_mb(), 1), "peak": round(peak_rss_mb(), 1)},
            }
        )
        await channel.recv()  # the bot has stopped: the emulator may go
    finally:
        tracker.shutting_down = True
        await emulator.stop()


def driver_process(
    args: argparse.Namespace, connection: multiprocessing.connection.Connection
) -> None:
    """The driver process's entry point."""
    signal.alarm(int(args.bound) + 60)  # last resort if the event loop itself is stuck
    # The driver is the measuring instrument: its own garbage-collection pauses delayed the
    # sendMessage arrivals it timestamps, and so showed up as the bot's latency (a 3-minute
    # run at 300/s: p99 47 ms with the driver collecting, 31 ms without). A bounded run
    # makes no cycles worth collecting; the driver's RSS is reported, so a leak would show.
    gc.disable()
    with contextlib.suppress(EOFError, BrokenPipeError, KeyboardInterrupt):
        asyncio.run(run_driver(args, PipeChannel(connection)))


# --- the bot side -------------------------------------------------------------------------


class ErrorLog(logging.Handler):
    """Counts ERROR records (the bot's error handler, PTB's polling loop, ...)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        self.records[f"{record.name}: {record.getMessage()[:120]}"] += 1


def build(settings: Any, service: Any, telegram_limits: bool) -> Any:
    """build_application as in production; without Telegram's rates unless asked."""
    import bot.telegram.app as app_module

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


@dataclass
class BotRun:
    args: argparse.Namespace
    service: Any
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    reloads: list[float] = field(default_factory=list)
    reload_errors: list[str] = field(default_factory=list)
    rss_samples: list[tuple[float, float]] = field(default_factory=list)


async def reloader(run: BotRun) -> None:
    while not run.stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(run.stop.wait(), run.args.reload_every)
        if run.stop.is_set():
            break
        started = time.perf_counter()
        try:
            await asyncio.to_thread(run.service.reload)
        except Exception as exc:  # reported, never fatal for the run
            run.reload_errors.append(f"{type(exc).__name__}: {exc}")
        else:
            run.reloads.append(time.perf_counter() - started)


async def sampler(run: BotRun, every: float) -> None:
    started = time.monotonic()
    while not run.stop.is_set():
        run.rss_samples.append((time.monotonic() - started, rss_mb()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(run.stop.wait(), every)
    run.rss_samples.append((time.monotonic() - started, rss_mb()))


def rss_report(samples: list[tuple[float, float]], warm_up: float, keep: bool) -> JSONDict:
    """Growth after warm-up and its slope, from (seconds, MB) samples of the bot process."""
    start = samples[0][1]
    warm = next(((t, mb) for t, mb in samples if t >= warm_up), samples[-1])
    after = [(t, mb) for t, mb in samples if t >= warm[0]]
    slope = 0.0
    if len(after) >= 3:
        slope = statistics.linear_regression(
            [t / 60 for t, _ in after], [mb for _, mb in after]
        ).slope
    return {
        "at_start": round(start, 1),
        "after_warm_up": round(warm[1], 1),
        "warm_up_s": round(warm[0], 1),
        "at_end": round(samples[-1][1], 1),
        "growth_after_warm_up": round(samples[-1][1] - warm[1], 1),
        "growth_mb_per_minute": round(slope, 2),
        "peak": round(max([peak_rss_mb(), *(mb for _, mb in samples)]), 1),
        "samples": [(round(t, 1), round(mb, 1)) for t, mb in samples] if keep else None,
    }


async def run_bot(args: argparse.Namespace, channel: Channel) -> JSONDict:
    """The bot: started against the driver's emulator, stopped when the driver reports."""
    from telegram import Update

    from bot.config import Settings
    from bot.service import KnowledgeService

    errors = ErrorLog()
    logging.getLogger().addHandler(errors)
    logging.getLogger().setLevel(logging.WARNING if not args.verbose else logging.INFO)
    hello = await channel.recv()
    assert hello["base_url"].startswith(f"http://{LOCALHOST}:")
    app = None
    with tempfile.TemporaryDirectory(prefix="loadtest-") as tmp:
        try:
            settings = Settings(
                _env_file=None,
                BOT_DB_PATH=Path(tmp) / "bot.db",
                BOT_KNOWLEDGE_DIR=args.knowledge,
                TELEGRAM_BOT_TOKEN=DEFAULT_TOKEN,
                TELEGRAM_API_BASE_URL=hello["base_url"],
                TELEGRAM_API_BASE_FILE_URL=hello["base_file_url"],
                BOT_GROUP_COOLDOWN=args.group_cooldown,
            )
            service = KnowledgeService(settings)
            service.start()
            app = build(settings, service, args.telegram_limits)
            await app.initialize()
            await app.start()
            await app.updater.start_polling(
                poll_interval=0, timeout=10, allowed_updates=Update.ALL_TYPES
            )
            run = BotRun(args, service)
            every = 10.0 if args.soak else max(0.5, min(10.0, args.seconds / 20))
            helpers = [asyncio.create_task(sampler(run, every))]
            if args.reload_every:
                helpers.append(asyncio.create_task(reloader(run)))
            cpu_at_start = cpu_seconds()
            channel.send({"go": True})
            report = await channel.recv()
            user_s, system_s = (b - a for a, b in zip(cpu_at_start, cpu_seconds(), strict=True))
            run.stop.set()
            await asyncio.gather(*helpers)
        finally:
            if app is not None:
                with contextlib.suppress(Exception):
                    await app.updater.stop()
                    await app.stop()
                    await app.shutdown()
            channel.send({"stopped": True})
            logging.getLogger().removeHandler(errors)
    return {
        **report,
        "bot_cpu_s": {"user": round(user_s, 2), "system": round(system_s, 2)},
        "bot_cpu_ms_per_answer": round(1000 * (user_s + system_s) / report["answered"], 2)
        if report["answered"]
        else None,
        "load_average": os.getloadavg()[0],
        "error_log_records": dict(errors.records),
        "reloads": {
            "done": len(run.reloads),
            "mean_s": round(statistics.mean(run.reloads), 3) if run.reloads else None,
            "errors": run.reload_errors,
        },
        "bot_rss_mb": rss_report(run.rss_samples, args.warm_up, keep=bool(args.soak)),
    }


async def run_in_process(args: argparse.Namespace) -> JSONDict:
    to_bot: asyncio.Queue[JSONDict] = asyncio.Queue()
    to_driver: asyncio.Queue[JSONDict] = asyncio.Queue()
    driver = asyncio.create_task(run_driver(args, QueueChannel(to_driver, to_bot)))
    try:
        return await run_bot(args, QueueChannel(to_bot, to_driver))
    finally:
        await driver


def run(args: argparse.Namespace) -> JSONDict:
    """Bot here, driver in a child process (or both here with --in-process)."""
    if args.in_process:
        return asyncio.run(asyncio.wait_for(run_in_process(args), args.bound))
    context = multiprocessing.get_context("spawn")
    here, there = context.Pipe()
    child = context.Process(target=driver_process, args=(args, there), name="loadtest-driver")
    child.start()
    there.close()
    try:
        report = asyncio.run(asyncio.wait_for(run_bot(args, PipeChannel(here)), args.bound))
        child.join(30)
        return {**report, "bot_pid": os.getpid(), "driver_pid": child.pid}
    finally:
        if child.is_alive():
            child.kill()
            child.join()


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
        "--rate",
        type=float,
        default=None,
        help="open loop: questions arrive at this mean rate per second (Poisson), "
        "from whichever of the --users has no question pending",
    )
    parser.add_argument(
        "--reload-every", type=float, default=None, help="reload the knowledge every N seconds"
    )
    parser.add_argument(
        "--telegram-limits", action="store_true", help="keep Telegram's rate limits"
    )
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="run the emulator and the users in the bot's process and event loop",
    )
    parser.add_argument(
        "--warm-up",
        type=float,
        default=None,
        help="seconds before RSS growth is counted (default: 60 for a soak, else 2)",
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
    if args.warm_up is None:
        args.warm_up = 60.0 if args.soak else 2.0
    if args.rate is not None and args.rate <= 0:
        parser.error("--rate must be > 0")
    if args.users < 1 or args.chats < 0 or not 0 <= args.group_share <= 1:
        parser.error("--users must be >= 1, --chats >= 0, --group-share in 0..1")
    planned = (args.soak * 60 or args.seconds or 600.0) + args.answer_timeout + 30
    args.bound = planned if args.max_seconds is None else min(args.max_seconds, planned)
    return args


def p99_by_minute(times: list[float], latencies: list[float]) -> list[float]:
    """The bot-side p99 (ms) of each minute of the run: does it drift, or is it even?"""
    if not times:
        return []
    start = times[0]
    minutes: dict[int, list[float]] = {}
    for at, latency in zip(times, latencies, strict=True):
        minutes.setdefault(int((at - start) // 60), []).append(latency)
    return [round(percentile(minutes[m], 0.99) * 1000, 1) for m in sorted(minutes)]


def print_report(report: JSONDict) -> None:
    lat = report["latency_ms"]
    bot_lat = report["bot_latency_ms"]
    rss = report["bot_rss_mb"]
    reloads = report["reloads"]
    offered = f"offered {report['rate']}/s (open loop), " if report["rate"] else ""
    lines = [
        f"{offered}users {report['users']}, group chats {report['group_chats']}, "
        f"rate limiter {report['rate_limiter']}, {report['mode']}, {report['seconds']} s",
        f"questions: {report['questions_asked']} asked, {report['answered']} answered, "
        f"{report['unanswered']} unanswered -> {report['questions_per_second']} answered/s"
        + (
            f" ({report['arrivals_dropped_all_users_busy']} arrivals dropped: all users busy)"
            if report["arrivals_dropped_all_users_busy"]
            else ""
        ),
        f"bot-side latency (getUpdates sent -> sendMessage arrived): p50 {bot_lat['p50']} ms, "
        f"p90 {bot_lat['p90']} ms, p99 {bot_lat['p99']} ms, max {bot_lat['max']} ms"
        + (
            f"; p99 by minute: {report['bot_p99_ms_by_minute']}"
            if len(report.get("bot_p99_ms_by_minute", [])) > 1
            else ""
        ),
        f"end-to-end latency (queued -> sendMessage arrived): p50 {lat['p50']} ms, "
        f"p90 {lat['p90']} ms, p99 {lat['p99']} ms, max {lat['max']} ms",
        f"failed calls: {report['failed_calls'] or 'none'}; "
        f"dropped: {report['dropped_calls'] or 'none'}",
        f"unexpected (duplicate/late) messages: {report['unexpected_messages']}; "
        f"updates delivered more than once: {report['updates_delivered_more_than_once']}",
        f"ERROR log records: {sum(report['error_log_records'].values())}"
        + "".join(f"\n  {n}x {msg}" for msg, n in report["error_log_records"].items()),
        f"reloads: {reloads['done']} (mean {reloads['mean_s']} s), "
        f"errors: {reloads['errors'] or 'none'}",
        f"bot RSS: {rss['at_start']} MB at start, {rss['after_warm_up']} MB after "
        f"{rss['warm_up_s']} s warm-up, {rss['at_end']} MB at end (growth after warm-up "
        f"{rss['growth_after_warm_up']} MB, {rss['growth_mb_per_minute']} MB/min), "
        f"peak {rss['peak']} MB",
        f"CPU: bot process {report['bot_cpu_s']['user']} s user + "
        f"{report['bot_cpu_s']['system']} s system "
        f"({report['bot_cpu_ms_per_answer']} ms per answer), driver {report['driver_cpu_s']} s"
        + (" (the same process)" if report["mode"] == "in-process" else "")
        + f"; load average {report['load_average']:.2f} at the end",
        f"driver RSS: {report['driver_rss_mb']['at_end']} MB at end",
    ]
    if rss["samples"]:
        lines.append("RSS samples (s, MB): " + ", ".join(f"{t}:{mb}" for t, mb in rss["samples"]))
    print("\n".join(lines))


def failed(report: JSONDict) -> bool:
    return bool(
        report["unanswered"]
        or report["unexpected_messages"]
        or report["arrivals_dropped_all_users_busy"]
        or report["updates_delivered_more_than_once"]
        or report["failed_calls"]
        or report["dropped_calls"]
        or report["emulator_internal_errors"]
        or report["error_log_records"]
        or report["reloads"]["errors"]
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.alarm(int(args.bound) + 30)  # last resort if the event loop itself is stuck
    try:
        report = run(args)
    except TimeoutError:
        print(f"error: the run did not finish within {args.bound:.0f} s", file=sys.stderr)
        return 2
    finally:
        signal.alarm(0)
    report = {
        "users": args.users,
        "rate": args.rate,
        "group_chats": args.chats,
        "rate_limiter": "telegram (30/s, 20/min per group)" if args.telegram_limits else "off",
        "mode": "in-process" if args.in_process else "bot and driver in separate processes",
        **report,
    }
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print_report(report)
    return 1 if failed(report) else 0


if __name__ == "__main__":
    sys.exit(main())

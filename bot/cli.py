"""The command line: `incident-bot COMMAND`. Each command's docstring is its help text."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

from bot.config import Settings
from bot.engine.answers import Reply
from bot.engine.dialogue import Engine
from bot.errors import BotError, KnowledgeInvalid
from bot.knowledge.loader import load_knowledge
from bot.knowledge.store import KnowledgeStore
from bot.service import KnowledgeService, self_check, self_check_problems, thresholds_from

logger = logging.getLogger(__name__)


def _settings(ctx: click.Context) -> Settings:
    settings: Settings = ctx.obj
    return settings


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    raise SystemExit(1)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--knowledge",
    "knowledge_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Knowledge folder (default: BOT_KNOWLEDGE_DIR or the shipped knowledge/).",
)
@click.option(
    "--db",
    "db_path",
    type=click.Path(path_type=Path),
    default=None,
    help="SQLite database file (default: BOT_DB_PATH).",
)
@click.pass_context
def cli(ctx: click.Context, knowledge_dir: Path | None, db_path: Path | None) -> None:
    """Answer questions about the 2020-03-02 KakaoTalk outage, from the article's facts."""
    overrides: dict[str, Any] = {}
    if knowledge_dir is not None:
        overrides["knowledge_dir"] = knowledge_dir
    if db_path is not None:
        overrides["db_path"] = db_path
    try:
        ctx.obj = Settings(**overrides)
    except Exception as exc:  # pydantic's ValidationError names the setting
        _fail(f"bad configuration: {exc}")
    logging.basicConfig(
        level=ctx.obj.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.pass_context
def check(ctx: click.Context, paths: tuple[Path, ...]) -> None:
    """Validate knowledge files (default: the knowledge folder) and self-check them as a
    reload would (every phrasing must reach its own intent); list every problem found."""
    settings = _settings(ctx)
    targets = list(paths) or [settings.knowledge_dir]
    try:
        knowledge = load_knowledge(
            targets,
            max_file_bytes=settings.max_file_bytes,
            max_aliases=settings.max_yaml_aliases,
        )
        problems = self_check_problems(
            knowledge, self_check(Engine(knowledge, thresholds_from(settings)))
        )
        if problems:
            raise KnowledgeInvalid(problems)
    except KnowledgeInvalid as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        click.echo(
            f"{len(exc.problems)} problem(s) found; fix them and run check again.", err=True
        )
        raise SystemExit(1) from None
    intents = sum(len(f.intents) for f in knowledge.files)
    phrasings = sum(len(i.phrasings) for f in knowledge.files for i in f.intents)
    entities = sum(len(f.entities) for f in knowledge.files)
    click.echo(
        f"OK: {len(knowledge.sources)} file(s), {intents} intents, {phrasings} phrasings, "
        f"{entities} entities; every quote is verbatim in its source, and every phrasing "
        "reaches its own intent."
    )


@cli.command()
@click.pass_context
def load(ctx: click.Context) -> None:
    """Validate the knowledge folder, then replace the stored knowledge in one transaction."""
    settings = _settings(ctx)
    try:
        knowledge = load_knowledge(
            [settings.knowledge_dir],
            max_file_bytes=settings.max_file_bytes,
            max_aliases=settings.max_yaml_aliases,
        )
    except KnowledgeInvalid as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        _fail("the stored knowledge was not changed.")
        return
    try:
        with KnowledgeStore(settings.db_path) as store:
            store.replace(knowledge)
            counts = store.counts()
    except BotError as exc:
        _fail(str(exc))
        return
    summary = ", ".join(f"{n} {t}" for t, n in counts.items() if t != "knowledge_files")
    click.echo(f"Loaded {len(knowledge.sources)} file(s) into {settings.db_path}: {summary}.")


def _service(settings: Settings) -> KnowledgeService:
    service = KnowledgeService(settings)
    try:
        service.start()
    except KnowledgeInvalid as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        _fail("the knowledge files are invalid and no stored knowledge exists.")
    except BotError as exc:
        _fail(str(exc))
    return service


def render_reply(reply: Reply) -> str:
    """A reply as a person reads it in a terminal."""
    lines = [reply.text]
    if reply.kind == "answer" and reply.source is not None:
        label = "Source" if reply.english else "출처"
        lines.append(f"  {label}: {reply.source.line()}")
        if reply.related:
            more = "Related" if reply.english else "관련 질문"
            lines.append(f"  {more}: " + " / ".join(s.question for s in reply.related))
    else:
        for number, suggestion in enumerate(reply.suggestions, 1):
            lines.append(f"  {number}. {suggestion.question}")
    return "\n".join(lines)


def _emit(reply: Reply, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(reply.to_json(), ensure_ascii=False))
    else:
        click.echo(render_reply(reply))


@cli.command()
@click.argument("question", required=False)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per answer.")
@click.pass_context
def ask(ctx: click.Context, question: str | None, as_json: bool) -> None:
    """Answer QUESTION; with no QUESTION, answer each line of standard input on its own."""
    service = _service(_settings(ctx))
    if question is not None:
        _emit(service.ask(question), as_json)
        return
    for line in sys.stdin:
        text = line.rstrip("\r\n")
        if text.strip():
            _emit(service.ask(text), as_json)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Read lines as one conversation; JSON out.")
@click.pass_context
def chat(ctx: click.Context, as_json: bool) -> None:
    """Talk to the bot in the terminal; follow-up questions use the conversation so far."""
    service = _service(_settings(ctx))
    interactive = sys.stdin.isatty() and not as_json
    if interactive:
        incident = service.engine.knowledge.sources[0].model.incident
        click.echo(
            f"{incident.title} ({incident.date.isoformat()}, {incident.source.publisher}).\n"
            "질문을 입력하세요. 번호로 제안을 고를 수 있어요. 끝내려면 /quit 또는 Ctrl-D."
        )
    last_options: list[str] = []
    while True:
        try:
            line = input("질문> ") if interactive else sys.stdin.readline()
        except (EOFError, KeyboardInterrupt):
            break
        if not interactive and not line:
            break
        text = line.strip()
        if not text:
            continue
        if text in {"/quit", "/exit", "quit", "exit"}:
            break
        if text.isdigit() and 1 <= int(text) <= len(last_options):
            text = last_options[int(text) - 1]
        reply = service.ask(text, conversation="terminal")
        last_options = [s.question for s in (reply.suggestions or reply.related)]
        _emit(reply, as_json)
        if interactive:
            click.echo()


@cli.command(name="eval")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--min-accuracy", type=float, default=0.0, help="Fail below this in-scope accuracy.")
@click.option("--min-refusal", type=float, default=0.0, help="Fail below this refusal rate.")
@click.option("--min-typo", type=float, default=0.0, help="Fail below this on typos/no-spacing.")
@click.option("--min-english", type=float, default=0.0, help="Fail below this on English.")
@click.option("--min-followup", type=float, default=0.0, help="Fail below this on follow-ups.")
@click.option("--max-wrong", type=int, default=None, help="Fail above this many wrong answers.")
@click.option("--no-baselines", is_flag=True, help="Skip the two baselines.")
@click.option("--quiet", is_flag=True, help="Summary lines only.")
@click.pass_context
def eval_command(
    ctx: click.Context,
    path: Path,
    min_accuracy: float,
    min_refusal: float,
    min_typo: float,
    min_english: float,
    min_followup: float,
    max_wrong: int | None,
    no_baselines: bool,
    quiet: bool,
) -> None:
    """Measure accuracy on a labelled question file (JSON lines), with two baselines."""
    from bot.evaluation import (
        IN_SCOPE_TYPO_KINDS,
        format_report,
        read_examples,
        run_baseline,
        run_engine,
        tfidf_baseline,
        wratio_baseline,
    )

    service = _service(_settings(ctx))
    try:
        examples = read_examples(path)
    except ValueError as exc:
        _fail(str(exc))
        return
    report = run_engine(service.engine, examples)
    for line in format_report(report, details=not quiet):
        click.echo(line)
    if not no_baselines:
        best_mistakes: int | None = None
        for name, classify in (
            ("baseline: rapidfuzz extractOne WRatio", wratio_baseline(service.engine)),
            ("baseline: char 1-3-gram TF-IDF", tfidf_baseline(service.engine)),
        ):
            base = run_baseline(name, classify, examples, service.engine)
            for line in format_report(base, details=False):
                click.echo(line)
            if best_mistakes is None or len(base.mistakes) < best_mistakes:
                best_mistakes = len(base.mistakes)
        if best_mistakes:
            ratio = len(report.mistakes) / best_mistakes
            click.echo(f"engine mistakes / better baseline's mistakes: {ratio:.2f}")
    failures = []
    checks = (
        ("in-scope accuracy", report.accuracy, min_accuracy),
        ("out-of-scope refusals", report.refusal_rate, min_refusal),
        ("typos and no-spacing", report.kind_rate(*IN_SCOPE_TYPO_KINDS), min_typo),
        ("english", report.kind_rate("english"), min_english),
        ("follow-ups", report.kind_rate("followup"), min_followup),
    )
    for label, value, minimum in checks:
        if minimum and not value >= minimum:
            failures.append(f"{label} {value:.1%} is below {minimum:.1%}")
    if max_wrong is not None and len(report.wrong_answers) > max_wrong:
        failures.append(f"{len(report.wrong_answers)} wrong answers, more than {max_wrong}")
    for failure in failures:
        click.echo(f"FAIL: {failure}", err=True)
    if failures:
        raise SystemExit(1)


@cli.command()
@click.option("--webhook", "webhook_url", default=None, help="Public HTTPS URL: webhook mode.")
@click.option("--listen", default="0.0.0.0", show_default=True, help="Webhook listen address.")
@click.option("--port", default=8443, show_default=True, help="Webhook port.")
@click.option(
    "--secret-token",
    envvar="BOT_WEBHOOK_SECRET",
    default=None,
    help="Webhook secret token (or BOT_WEBHOOK_SECRET).",
)
@click.pass_context
def run(
    ctx: click.Context, webhook_url: str | None, listen: str, port: int, secret_token: str | None
) -> None:
    """Run the Telegram bot: long polling, or a webhook with --webhook URL."""
    from bot.telegram.app import WebhookOptions, require_token
    from bot.telegram.app import run as run_bot

    settings = _settings(ctx)
    try:
        require_token(settings)
    except BotError as exc:
        _fail(str(exc))
    if webhook_url and not webhook_url.startswith("https://"):
        _fail(
            "the webhook URL must start with https:// (Telegram requires it); run the bot "
            "behind a reverse proxy that terminates TLS and forwards to --listen/--port"
        )
    service = _service(settings)
    logger.info(
        "knowledge loaded from %s: %d intents",
        service.started_from,
        len(service.engine.index.intents),
    )
    options = (
        WebhookOptions(
            url=webhook_url,
            listen=listen,
            port=port,
            secret_token=secret_token,
            # The bot listens on the URL's path (a reverse proxy forwards it as it is).
            url_path=urlsplit(webhook_url).path.lstrip("/"),
        )
        if webhook_url
        else None
    )
    run_bot(settings, service, options)


@cli.command()
@click.pass_context
def reload(ctx: click.Context) -> None:
    """Tell the running bot to reload its knowledge (SIGHUP to the pid in BOT_DB_PATH.pid).

    The bot validates, self-checks and swaps in the new knowledge, or keeps the old one;
    the outcome is in its log and in `incident-bot audit`."""
    import os
    import signal

    settings = _settings(ctx)
    pid_path = settings.pid_path()
    try:
        pid = int(pid_path.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        _fail(f"no running bot found ({pid_path} is missing): start it with `incident-bot run`")
        return
    try:
        os.kill(pid, signal.SIGHUP)
    except ProcessLookupError:
        _fail(f"the bot with pid {pid} is not running any more (stale {pid_path})")
    except PermissionError:
        _fail(f"not allowed to signal the bot (pid {pid}); run as the same user")
    click.echo(f"asked the bot (pid {pid}) to reload; see its log or `incident-bot audit`")


@cli.command()
@click.option("--limit", default=50, show_default=True, help="How many entries, newest first.")
@click.pass_context
def audit(ctx: click.Context, limit: int) -> None:
    """Print the audit log of admin actions (who, when, what, outcome)."""
    from bot.records import Records

    records = Records(_settings(ctx).db_path)
    try:
        for row in records.audit_log(limit):
            click.echo(
                f"{row['at']}  admin {row['actor']}  {row['action']}  {row['detail']}  "
                f"-> {row['outcome']}"
            )
    finally:
        records.close()


@cli.command()
@click.option("--factor", default=100, show_default=True, help="Size of the synthetic base.")
@click.option("--rounds", default=5, show_default=True, help="Passes over the questions.")
@click.option("--fuzz", "fuzz_count", default=0, help="Random inputs to run (0: none).")
@click.pass_context
def bench(ctx: click.Context, factor: int, rounds: int, fuzz_count: int) -> None:
    """Print warm latency p50/p99, cold start, peak memory (and fuzz results)."""
    from bot.bench import run as run_bench

    settings = _settings(ctx)
    for line in run_bench(
        settings.knowledge_dir, factor=factor, rounds=rounds, fuzz_count=fuzz_count
    ):
        click.echo(line)


@cli.command()
@click.option("--max-age", default=90.0, show_default=True, help="Seconds since the heartbeat.")
@click.pass_context
def health(ctx: click.Context, max_age: float) -> None:
    """Exit 0 when a running bot wrote its heartbeat recently (for Docker HEALTHCHECK)."""
    import time

    from bot.telegram.app import heartbeat_path

    path = heartbeat_path(_settings(ctx))
    try:
        age = time.time() - float(path.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        _fail(f"no heartbeat at {path}: is the bot running?")
        return
    if age > max_age:
        _fail(f"last heartbeat {age:.0f}s ago (limit {max_age:.0f}s)")
    click.echo(f"ok: heartbeat {age:.0f}s ago")


def main() -> None:
    """Entry point of the `incident-bot` console script."""
    cli(prog_name="incident-bot")


if __name__ == "__main__":  # pragma: no cover
    main()

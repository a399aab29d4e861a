"""The running knowledge: one immutable snapshot, answered from, swapped atomically on reload.

Data flows one way: files -> validated models -> SQLite -> in-memory engine. A reload builds
a complete new engine (validation, store transaction, self-check) before one assignment
makes it current; if anything fails, the previous engine and the previous stored knowledge
stay as they were.
"""

from __future__ import annotations

import gc
import logging
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bot.config import Settings
from bot.engine.answers import Reply
from bot.engine.dialogue import ConversationMemory, Engine, Thresholds
from bot.errors import KnowledgeInvalid, KnowledgeProblem, ReloadInProgress, StoreError
from bot.knowledge.editing import Change
from bot.knowledge.loader import Knowledge, load_knowledge
from bot.knowledge.store import KnowledgeStore

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class KnowledgeDiff:
    """What changed between two knowledge snapshots."""

    added_intents: tuple[str, ...] = ()
    removed_intents: tuple[str, ...] = ()
    changed_intents: tuple[str, ...] = ()
    added_phrasings: int = 0
    removed_phrasings: int = 0
    added_entities: tuple[str, ...] = ()
    removed_entities: tuple[str, ...] = ()
    changed_entities: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not any(
            (
                self.added_intents,
                self.removed_intents,
                self.changed_intents,
                self.added_phrasings,
                self.removed_phrasings,
                self.added_entities,
                self.removed_entities,
                self.changed_entities,
            )
        )


@dataclass(frozen=True)
class SelfCheck:
    """Each intent's own phrasings run through the new matcher."""

    total: int
    failures: tuple[tuple[str, str, str | None], ...] = field(default=())  # phrasing, want, got

    @property
    def passed(self) -> int:
        return self.total - len(self.failures)


@dataclass(frozen=True)
class ReloadReport:
    diff: KnowledgeDiff
    self_check: SelfCheck
    seconds: float
    intents: int
    changed: bool


def describe_reload(report: ReloadReport) -> list[str]:
    """A reload's summary as lines a person reads (Telegram and the command line)."""
    d = report.diff
    lines = [
        f"Reloaded in {report.seconds * 1000:.0f} ms: {report.intents} intents"
        + ("" if report.changed else " (no change)"),
    ]
    if not d.empty:
        for label, items in (
            ("intents added", d.added_intents),
            ("intents removed", d.removed_intents),
            ("intents changed", d.changed_intents),
            ("entities added", d.added_entities),
            ("entities removed", d.removed_entities),
            ("entities changed", d.changed_entities),
        ):
            if items:
                lines.append(f"{label}: {', '.join(items)}")
        if d.added_phrasings or d.removed_phrasings:
            lines.append(f"phrasings: +{d.added_phrasings} / -{d.removed_phrasings}")
    check = report.self_check
    lines.append(f"self-check: {check.passed}/{check.total} phrasings reach their own intent")
    return lines


def diff_knowledge(old: Knowledge | None, new: Knowledge) -> KnowledgeDiff:
    """Compare two snapshots by intent and entity id."""
    old_intents = {i.id: i for f in (old.files if old else []) for i in f.intents}
    new_intents = {i.id: i for f in new.files for i in f.intents}
    old_entities = {e.id: e for f in (old.files if old else []) for e in f.entities}
    new_entities = {e.id: e for f in new.files for e in f.entities}
    old_phr = {(i.id, p) for i in old_intents.values() for p in i.phrasings}
    new_phr = {(i.id, p) for i in new_intents.values() for p in i.phrasings}
    return KnowledgeDiff(
        added_intents=tuple(sorted(new_intents.keys() - old_intents.keys())),
        removed_intents=tuple(sorted(old_intents.keys() - new_intents.keys())),
        changed_intents=tuple(
            sorted(
                k
                for k in new_intents.keys() & old_intents.keys()
                if new_intents[k] != old_intents[k]
            )
        ),
        added_phrasings=len(new_phr - old_phr),
        removed_phrasings=len(old_phr - new_phr),
        added_entities=tuple(sorted(new_entities.keys() - old_entities.keys())),
        removed_entities=tuple(sorted(old_entities.keys() - new_entities.keys())),
        changed_entities=tuple(
            sorted(
                k
                for k in new_entities.keys() & old_entities.keys()
                if new_entities[k] != old_entities[k]
            )
        ),
    )


def self_check(engine: Engine) -> SelfCheck:
    """Every phrasing of every intent must rank its own intent first."""
    failures: list[tuple[str, str, str | None]] = []
    total = 0
    for intent in engine.index.intents.values():
        for phrasing in intent.phrasings:
            total += 1
            _query, _cands, got, _conf, _reason = engine.understand(phrasing)
            if got != intent.id:
                failures.append((phrasing, intent.id, got))
    return SelfCheck(total, tuple(failures))


def self_check_problems(knowledge: Knowledge, check: SelfCheck) -> list[KnowledgeProblem]:
    """The self-check's failures as problems naming the file, the intent and the field."""
    return [
        KnowledgeProblem(
            file=str(source_file(knowledge, want)),
            entry=f"intents (id={want})",
            field="phrasings",
            message=f"self-check: {phrasing!r} now reaches {got or 'nothing'}",
        )
        for phrasing, want, got in check.failures
    ]


def freeze_heap() -> None:
    """Collect what is garbage, then move every object alive out of the cyclic garbage
    collector's way (gc.freeze).

    The index is some 80,000 long-lived objects: every full collection walked them all, a
    16-22 ms pause whenever one fell due, in the middle of answering. (It was suspected of a
    10-minute soak's 65 ms p99 but was not its main cause: the load driver's own collector
    was.) Objects made later are collected as usual. Called again after a reload, first
    unfreezing, so the old engine is collected."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def source_file(knowledge: Knowledge, intent_id: str) -> Path:
    """The file an intent comes from."""
    return knowledge.intents[intent_id][1].path


def thresholds_from(settings: Settings) -> Thresholds:
    return Thresholds(
        answer=settings.answer_threshold,
        suggest=settings.suggest_threshold,
        margin=settings.ambiguity_margin,
        clear_answer=settings.clear_answer_threshold,
        clear_margin=settings.clear_margin,
        context_answer=settings.context_answer_threshold,
        context_margin=settings.context_margin,
    )


class KnowledgeService:
    """Holds the current engine; answers questions; reloads safely."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.memory = ConversationMemory(ttl=settings.context_ttl_seconds)
        self._engine: Engine | None = None
        self._reload_lock = threading.Lock()
        self._heap_frozen = False
        self.started_from: str = "none"

    @property
    def engine(self) -> Engine:
        engine = self._engine
        if engine is None:
            raise StoreError("no knowledge is loaded")
        return engine

    def _read_files(self) -> Knowledge:
        return load_knowledge(
            [self.settings.knowledge_dir],
            max_file_bytes=self.settings.max_file_bytes,
            max_aliases=self.settings.max_yaml_aliases,
        )

    def _open_store(self) -> KnowledgeStore:
        path = self.settings.db_path
        try:
            # A file that is not a database at all already fails when it is opened.
            store = KnowledgeStore(path)
            try:
                store.check_integrity()
            except StoreError:
                store.close()
                raise
        except StoreError as exc:
            if str(path) == ":memory:":
                raise
            broken = Path(f"{path}.corrupt-{int(time.time())}")
            logger.error(
                "%s; moving it to %s and rebuilding from the knowledge files", exc, broken
            )
            for suffix in ("", "-wal", "-shm"):
                part = Path(f"{path}{suffix}")
                if part.exists():
                    part.rename(Path(f"{broken}{suffix}"))
            store = KnowledgeStore(path)
        return store

    def start(self) -> None:
        """Load the knowledge at start-up: files first; the stored copy if they are broken."""
        with self._open_store() as store:
            try:
                knowledge = self._read_files()
            except KnowledgeInvalid as exc:
                stored = store.read()
                if stored is None:
                    raise
                logger.error(
                    "knowledge files are invalid (%d problem(s)); serving the last good "
                    "knowledge from %s:\n%s",
                    len(exc.problems),
                    self.settings.db_path,
                    exc,
                )
                self._engine = Engine(stored, thresholds_from(self.settings))
                self.started_from = "store"
                return
            if store.content_hash() != knowledge.content_hash:
                store.replace(knowledge)
            stored = store.read()
        # The engine is built from the stored copy; dropping the files' copy first keeps one
        # set of models in memory, not two, under the index build's peak.
        knowledge = stored or knowledge
        del stored
        self._engine = Engine(knowledge, thresholds_from(self.settings))
        self.started_from = "files"

    def keep_heap_frozen(self) -> None:
        """For a long-running server: freeze the heap now and after every reload (see
        freeze_heap)."""
        self._heap_frozen = True
        freeze_heap()

    def load_engine(self, engine: Engine) -> None:
        """Serve a ready engine (tests and tools that build knowledge themselves)."""
        self._engine = engine

    def ask(self, text: str, conversation: str | None = None) -> Reply:
        """Answer a question with the current snapshot (one read of one reference)."""
        engine = self.engine
        return engine.ask(text, conversation=conversation, memory=self.memory)

    def reload(self, *, require_self_check: bool = True) -> ReloadReport:
        """Validate, store and swap in the knowledge files; on any error change nothing.

        Runs synchronously; call it from a worker thread in async code.
        """
        if not self._reload_lock.acquire(blocking=False):
            raise ReloadInProgress("a reload is already running; try again in a moment")
        try:
            return self._reload(require_self_check)
        finally:
            self._reload_lock.release()

    def apply_change(self, edit: Callable[[], Change]) -> tuple[Change, ReloadReport]:
        """Change a knowledge file and reload, all or nothing: if the reload refuses the
        new knowledge, the file is put back as it was and the error is raised."""
        if not self._reload_lock.acquire(timeout=30):
            raise ReloadInProgress("a reload is already running; try again in a moment")
        try:
            change = edit()
            try:
                return change, self._reload(True)
            except Exception:
                if change.backup is not None:
                    shutil.copy2(change.backup, change.path)
                else:
                    change.path.unlink(missing_ok=True)
                raise
        finally:
            self._reload_lock.release()

    def _reload(self, require_self_check: bool) -> ReloadReport:
        started = time.perf_counter()
        knowledge = self._read_files()
        engine = Engine(knowledge, thresholds_from(self.settings))
        check = self_check(engine)
        if require_self_check and check.failures:
            raise KnowledgeInvalid(self_check_problems(knowledge, check))
        previous = self._engine.knowledge if self._engine else None
        changed = previous is None or previous.content_hash != knowledge.content_hash
        if changed:
            # Store first, then swap: if the store fails, neither changes.
            with self._open_store() as store:
                store.replace(knowledge)
        self._engine = engine
        report = ReloadReport(
            diff=diff_knowledge(previous, knowledge),
            self_check=check,
            seconds=time.perf_counter() - started,
            intents=len(engine.index.intents),
            changed=changed,
        )
        del previous
        if self._heap_frozen:
            freeze_heap()  # the old engine is garbage now; the new one is long-lived
        return report

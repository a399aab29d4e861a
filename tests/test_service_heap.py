"""The long-running server's heap: frozen out of the cyclic collector's way, and a reload
still frees the engine it replaces."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import Settings
from bot.service import KnowledgeService

SHIPPED = Path(__file__).resolve().parent.parent / "knowledge"


@pytest.fixture
def unfrozen_after() -> Iterator[None]:
    yield
    gc.unfreeze()  # the rest of the test session collects as usual


@pytest.mark.usefixtures("unfrozen_after")
def test_a_reload_frees_the_engine_it_replaces_with_the_heap_frozen(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, BOT_DB_PATH=tmp_path / "bot.db", BOT_KNOWLEDGE_DIR=SHIPPED)
    service = KnowledgeService(settings)
    service.start()
    service.keep_heap_frozen()
    assert gc.get_freeze_count() > 0
    # A reference cycle, as any engine might come to have: only the cyclic collector frees
    # it, and it must not stay frozen for good.
    vars(service.engine)["itself"] = service.engine
    old = weakref.ref(service.engine)
    old_index = weakref.ref(service.engine.index)

    service.reload()

    assert old() is None and old_index() is None
    assert service.engine is not None
    assert gc.get_freeze_count() > 0  # frozen again, with the new engine
    assert service.ask("카톡 언제 복구됐어?").answered

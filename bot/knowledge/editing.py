"""Changing knowledge files safely: uploads, rollback, and adding a phrasing.

Every change is validated on a copy of the whole knowledge folder first; only then is the
file replaced atomically (write to a temporary file, then `os.replace`), with the previous
version kept in `.backups/`. A bad change leaves the folder exactly as it was.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.errors import BotError, KnowledgeInvalid, KnowledgeProblem
from bot.knowledge.loader import KNOWLEDGE_SUFFIXES, Knowledge, load_knowledge

BACKUP_DIR = ".backups"
LAST_UPLOAD = "last-upload.json"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,80}\.ya?ml$")


class EditRefused(BotError):
    """A change to the knowledge folder was refused; nothing was written."""


@dataclass(frozen=True)
class Change:
    """A knowledge file that was written, and where its previous version went."""

    path: Path
    backup: Path | None
    knowledge: Knowledge


def safe_file_name(name: str) -> str:
    """The file name an upload may take, or EditRefused: no folders, no hidden files,
    only .yaml/.yml, letters, digits, '.', '_' and '-'."""
    if not name or "/" in name or "\\" in name or name in {".", ".."}:
        raise EditRefused(f"file name {name!r} is not allowed: give a plain file name")
    if not _SAFE_NAME.match(name):
        raise EditRefused(
            f"file name {name!r} is not allowed: use letters, digits, '.', '_' or '-', "
            "ending in .yaml or .yml"
        )
    return name


def _validate_with(
    knowledge_dir: Path, name: str, content: bytes, *, max_bytes: int, max_aliases: int
) -> Knowledge:
    """Validate the folder as it would be with `name` replaced by `content`."""
    with tempfile.TemporaryDirectory(prefix="knowledge-check-") as tmp:
        staging = Path(tmp)
        for item in knowledge_dir.iterdir():
            if item.is_file() and not item.name.startswith("."):
                shutil.copy2(item, staging / item.name)
        (staging / name).write_bytes(content)
        knowledge = load_knowledge(
            [staging], max_file_bytes=max_bytes, max_aliases=max_aliases, knowledge_root=staging
        )
    # Problems and sources name the staging copy; point them back at the real folder.
    return knowledge


def _rename_problems(exc: KnowledgeInvalid, staging_hint: str, real: Path) -> KnowledgeInvalid:
    problems = [
        KnowledgeProblem(
            file=str(real / Path(p.file).name) if staging_hint in p.file else p.file,
            message=p.message,
            line=p.line,
            entry=p.entry,
            field=p.field,
        )
        for p in exc.problems
    ]
    return KnowledgeInvalid(problems)


def _atomic_write(path: Path, content: bytes) -> Path | None:
    """Replace `path` with `content` atomically; return the backup of the old version."""
    backup: Path | None = None
    if path.exists():
        backups = path.parent / BACKUP_DIR
        backups.mkdir(exist_ok=True)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        backup = backups / f"{path.name}.{stamp}"
        shutil.copy2(path, backup)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return backup


def write_file(
    knowledge_dir: Path,
    name: str,
    content: bytes,
    *,
    max_bytes: int,
    max_aliases: int,
    remember_for_rollback: bool = True,
) -> Change:
    """Validate, then install `content` as knowledge file `name` (an upload)."""
    name = safe_file_name(name)
    if len(content) > max_bytes:
        raise EditRefused(f"{name} is {len(content)} bytes, over the limit of {max_bytes} bytes")
    try:
        knowledge = _validate_with(
            knowledge_dir, name, content, max_bytes=max_bytes, max_aliases=max_aliases
        )
    except KnowledgeInvalid as exc:
        raise _rename_problems(exc, "knowledge-check-", knowledge_dir) from None
    target = knowledge_dir / name
    existed = target.exists()
    backup = _atomic_write(target, content)
    if remember_for_rollback:
        record = {"name": name, "backup": backup.name if backup else None, "existed": existed}
        backups = knowledge_dir / BACKUP_DIR
        backups.mkdir(exist_ok=True)
        (backups / LAST_UPLOAD).write_text(json.dumps(record), encoding="utf-8")
    return Change(target, backup, knowledge)


def rollback(knowledge_dir: Path, *, max_bytes: int, max_aliases: int) -> Change:
    """Put back the version of the last uploaded file from before that upload."""
    record_path = knowledge_dir / BACKUP_DIR / LAST_UPLOAD
    if not record_path.exists():
        raise EditRefused("there is no upload to roll back")
    record = json.loads(record_path.read_text(encoding="utf-8"))
    name = safe_file_name(str(record["name"]))
    if record.get("backup"):
        previous = (knowledge_dir / BACKUP_DIR / str(record["backup"])).read_bytes()
        change = write_file(
            knowledge_dir,
            name,
            previous,
            max_bytes=max_bytes,
            max_aliases=max_aliases,
            remember_for_rollback=False,
        )
    else:
        # The upload created the file: rolling back removes it, if the rest still validates.
        target = knowledge_dir / name
        with tempfile.TemporaryDirectory(prefix="knowledge-check-") as tmp:
            staging = Path(tmp)
            for item in knowledge_dir.iterdir():
                if item.is_file() and not item.name.startswith(".") and item.name != name:
                    shutil.copy2(item, staging / item.name)
            try:
                knowledge = load_knowledge(
                    [staging], max_file_bytes=max_bytes, max_aliases=max_aliases
                )
            except KnowledgeInvalid as exc:
                raise _rename_problems(exc, "knowledge-check-", knowledge_dir) from None
        backups = knowledge_dir / BACKUP_DIR
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        backup = backups / f"{name}.{stamp}"
        os.replace(target, backup)
        change = Change(target, backup, knowledge)
    record_path.unlink()
    return change


def file_of_intent(knowledge_dir: Path, intent_id: str) -> Path:
    """The knowledge file that defines `intent_id`."""
    for path in sorted(knowledge_dir.iterdir()):
        if path.suffix not in KNOWLEDGE_SUFFIXES:
            continue
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for intent in (data or {}).get("intents", []) or []:
            if isinstance(intent, dict) and intent.get("id") == intent_id:
                return path
    raise EditRefused(f"no knowledge file defines intent '{intent_id}'")


def with_phrasing(text: str, intent_id: str, phrasing: str) -> str:
    """The YAML text with `phrasing` appended to the phrasings of `intent_id`, leaving
    every other line as it was (comments and formatting stay)."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if not isinstance(root, yaml.MappingNode):
        raise EditRefused("the knowledge file is not a mapping")
    intents = next((v for k, v in root.value if k.value == "intents"), None)
    if not isinstance(intents, yaml.SequenceNode):
        raise EditRefused("the knowledge file has no intents")
    for item in intents.value:
        if not isinstance(item, yaml.MappingNode):
            continue
        fields = {k.value: v for k, v in item.value}
        id_node = fields.get("id")
        if not isinstance(id_node, yaml.ScalarNode) or id_node.value != intent_id:
            continue
        phrasings = fields.get("phrasings")
        if not isinstance(phrasings, yaml.SequenceNode) or not phrasings.value:
            raise EditRefused(f"intent '{intent_id}' has no phrasings list to extend")
        if phrasings.flow_style:
            raise EditRefused(f"the phrasings of '{intent_id}' are a flow list; edit by hand")
        lines = text.splitlines(keepends=True)
        last = phrasings.value[-1]
        first = phrasings.value[0]
        indent = " " * max(0, first.start_mark.column - 2)
        scalar = yaml.safe_dump(phrasing, allow_unicode=True, width=10_000).strip()
        if scalar.endswith("\n..."):
            scalar = scalar[: -len("\n...")]
        scalar = scalar.removesuffix("...").strip()
        insert_at = last.end_mark.line + (1 if last.end_mark.column > 0 else 0)
        new_line = f"{indent}- {scalar}\n"
        if insert_at > 0 and not lines[insert_at - 1].endswith("\n"):
            lines[insert_at - 1] += "\n"
        lines.insert(insert_at, new_line)
        return "".join(lines)
    raise EditRefused(f"intent '{intent_id}' is not in this file")


def add_phrasing(
    knowledge_dir: Path, intent_id: str, phrasing: str, *, max_bytes: int, max_aliases: int
) -> Change:
    """Append a phrasing to an intent's file: validated, atomic, with a backup."""
    phrasing = " ".join(phrasing.split())
    if not phrasing:
        raise EditRefused("an empty phrasing cannot be added")
    path = file_of_intent(knowledge_dir, intent_id)
    text = with_phrasing(path.read_text(encoding="utf-8"), intent_id, phrasing)
    return write_file(
        knowledge_dir,
        path.name,
        text.encode("utf-8"),
        max_bytes=max_bytes,
        max_aliases=max_aliases,
        remember_for_rollback=False,
    )

"""Knowledge files -> validated models, with errors that name file, line, entry and field.

Every problem in every file is collected before anything is reported, so an editor sees
all of them at once. Nothing here touches the store: callers decide what to do with a
valid `Knowledge`.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from bot.errors import KnowledgeInvalid, KnowledgeProblem
from bot.knowledge.schema import Intent, KnowledgeFile

KNOWLEDGE_SUFFIXES = (".yaml", ".yml")
_COMPACT_RE = re.compile(r"[\W_]+", re.UNICODE)


@dataclass(frozen=True)
class KnowledgeSource:
    """One validated knowledge file and the article text it cites."""

    path: Path
    model: KnowledgeFile
    document_text: str
    sha256: str


@dataclass(frozen=True)
class Knowledge:
    """All validated knowledge files of a folder: what the store and the engine consume."""

    sources: tuple[KnowledgeSource, ...]
    content_hash: str
    intents: dict[str, tuple[Intent, KnowledgeSource]] = field(repr=False)

    @property
    def files(self) -> list[KnowledgeFile]:
        return [s.model for s in self.sources]


def phrasing_key(text: str) -> str:
    """Compact form used to spot the same phrasing twice (case, spaces, punctuation ignored)."""
    return _COMPACT_RE.sub("", unicodedata.normalize("NFKC", text).casefold())


# libyaml's parser when PyYAML has it (several times faster on large files), else Python's.
_BaseSafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _check_aliases(text: str, limit: int) -> None:
    """Refuse documents with more aliases than allowed (alias bombs), before building
    anything from them: the events are streamed, nothing is expanded."""
    count = 0
    for event in yaml.parse(text, Loader=_BaseSafeLoader):
        if isinstance(event, yaml.AliasEvent):
            count += 1
            if count > limit:
                raise yaml.MarkedYAMLError(
                    problem=f"too many YAML aliases (more than {limit})",
                    problem_mark=event.start_mark,  # type: ignore[arg-type]
                )


class _LimitedSafeLoader(_BaseSafeLoader):  # type: ignore[misc]
    """A safe loader (no object construction) that refuses duplicate keys."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        # PyYAML keeps the last of two equal keys silently; a second `answer:` pasted into an
        # entry would quietly replace the first one.
        seen: set[Any] = set()
        for key_node, _value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:  # unhashable; the base class reports it
                continue
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    problem=f"duplicate key {key!r} (the first value would be lost)",
                    problem_mark=key_node.start_mark,
                )
            seen.add(key)
        mapping: dict[Any, Any] = super().construct_mapping(node, deep)
        return mapping


class _NotPlain(Exception):
    """The document uses anchors, aliases, merge keys, tags or several documents, or is
    invalid: it is loaded the usual way, which also gives the usual errors."""


_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_SPECIAL_KEY_TAGS = frozenset({"tag:yaml.org,2002:merge", "tag:yaml.org,2002:value"})


def _load_plain(text: str) -> Any:
    """The data of a plain YAML document (mappings, sequences and scalars, no anchors,
    aliases, merge keys, collection tags or duplicate keys) built straight from the parser's
    events, without the node tree the usual loader composes first: on 100x knowledge that
    tree was about 55 MB alive together with the data. Scalars are resolved and built by
    the same loader code, so the data is the same; anything else raises _NotPlain."""
    loader = _LimitedSafeLoader("")
    events = yaml.parse(text, Loader=_BaseSafeLoader)
    # open collections: a list, or a dict with the key waiting for its value (or _NO_KEY)
    stack: list[tuple[list[Any] | dict[Any, Any], list[Any]]] = []
    root: list[Any] = []

    def add(value: Any) -> None:
        if not stack:
            root.append(value)
            return
        container, pending = stack[-1]
        if isinstance(container, list):
            container.append(value)
        elif not pending:
            if not isinstance(value, Hashable) or value in container:
                raise _NotPlain  # the usual loader reports it
            pending.append(value)
        else:
            container[pending.pop()] = value

    try:
        for event in events:
            if isinstance(event, yaml.ScalarEvent):
                tag = event.tag
                if tag is None or tag == "!":
                    tag = loader.resolve(yaml.ScalarNode, event.value, event.implicit)
                if event.anchor is not None or tag in _SPECIAL_KEY_TAGS:
                    raise _NotPlain
                start: Any = event.start_mark  # libyaml's own Mark class
                node = yaml.ScalarNode(tag, event.value, start, start, style=event.style)
                add(loader.construct_object(node, deep=True))
                del loader.constructed_objects[node]
            elif isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
                if event.anchor is not None or event.tag not in (None, "!"):
                    raise _NotPlain
                stack.append(({}, []) if isinstance(event, yaml.MappingStartEvent) else ([], []))
            elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
                add(stack.pop()[0])
            elif isinstance(event, yaml.DocumentStartEvent) and root:
                raise _NotPlain  # a second document
            elif isinstance(event, yaml.AliasEvent):
                raise _NotPlain
    except yaml.YAMLError as exc:
        raise _NotPlain from exc
    finally:
        loader.dispose()
    if len(root) != 1:
        raise _NotPlain
    return root[0]


def knowledge_files(paths: Iterable[Path]) -> list[Path]:
    """Expand folders into their knowledge files, sorted; keep explicit files as given."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                sorted(
                    p
                    for p in path.iterdir()
                    if p.suffix in KNOWLEDGE_SUFFIXES
                    and p.is_file()
                    and not p.name.startswith(".")
                )
            )
        else:
            found.append(path)
    return found


def _line_of(node: yaml.Node | None, loc: Sequence[int | str]) -> int | None:
    """The 1-based line of the YAML node at `loc`, or of its closest existing parent."""
    if node is None:
        return None
    line: int = node.start_mark.line + 1
    current: yaml.Node = node
    for part in loc:
        child: yaml.Node | None = None
        if isinstance(current, yaml.MappingNode):
            for key_node, value_node in current.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.value == part:
                    child = value_node
                    break
        elif (
            isinstance(current, yaml.SequenceNode)
            and isinstance(part, int)
            and 0 <= part < len(current.value)
        ):
            child = current.value[part]
        if child is None:
            break
        current = child
        line = current.start_mark.line + 1
    return line


def _entry_name(data: Any, loc: Sequence[int | str]) -> tuple[str | None, list[int | str]]:
    """Split a pydantic `loc` into an entry label ('intents[3] (id=outage_end)') and a field."""
    if len(loc) >= 2 and isinstance(loc[0], str) and isinstance(loc[1], int):
        section, index = loc[0], loc[1]
        label = f"{section}[{index}]"
        try:
            item = data[section][index]
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                label += f" (id={item['id']})"
        except (KeyError, IndexError, TypeError):
            pass
        return label, list(loc[2:])
    if loc and isinstance(loc[0], str):
        return loc[0], list(loc[1:])
    return None, list(loc)


def _field_name(parts: Sequence[int | str]) -> str | None:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or None


class _FileChecker:
    """Reads and validates one file, collecting problems instead of stopping at the first."""

    def __init__(self, path: Path, max_bytes: int, max_aliases: int) -> None:
        self.path = path
        self.name = str(path)
        self.max_bytes = max_bytes
        self.max_aliases = max_aliases
        self.problems: list[KnowledgeProblem] = []
        self.text: str | None = None
        self._root: yaml.Node | None = None
        self.data: Any = None

    def root(self) -> yaml.Node | None:
        """The YAML node tree, built only when a problem needs a line number."""
        if self._root is None and self.text is not None:
            try:
                self._root = yaml.compose(self.text, Loader=_BaseSafeLoader)
            except yaml.YAMLError:
                return None
        return self._root

    def problem(
        self,
        message: str,
        loc: Sequence[int | str] = (),
        *,
        entry: str | None = None,
        field_name: str | None = None,
    ) -> None:
        if entry is None and field_name is None and loc:
            entry, rest = _entry_name(self.data, loc)
            field_name = _field_name(rest)
        self.problems.append(
            KnowledgeProblem(
                file=self.name,
                line=_line_of(self.root(), loc) if loc else None,
                entry=entry,
                field=field_name,
                message=message,
            )
        )

    def read(self) -> tuple[KnowledgeFile, bytes] | None:
        try:
            size = self.path.stat().st_size
        except OSError as exc:
            self.problem(f"cannot read file: {exc.strerror or exc}")
            return None
        if size > self.max_bytes:
            self.problem(f"file is {size} bytes, over the limit of {self.max_bytes} bytes")
            return None
        raw = self.path.read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            self.problems.append(
                KnowledgeProblem(
                    file=self.name,
                    line=line,
                    message=f"not valid UTF-8 (byte {exc.start}); save the file as UTF-8",
                )
            )
            return None
        if not text.strip():
            self.problem("file is empty")
            return None
        self.text = text
        try:
            self.data = _load_plain(text)
        except _NotPlain:
            self.data = self._load_usual(text)
            if self.problems:
                return None
        if not isinstance(self.data, dict):
            self.problem("the file must be a YAML mapping with incident, entities and intents")
            return None
        try:
            model = KnowledgeFile.model_validate(self.data)
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                self.problem(_describe(err), tuple(err["loc"]))
            return None
        return model, raw

    def _load_usual(self, text: str) -> Any:
        """The usual loader (aliases counted first), its errors recorded as problems."""
        loader = _LimitedSafeLoader(text)
        try:
            _check_aliases(text, self.max_aliases)
            return loader.get_single_data()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            self.problems.append(
                KnowledgeProblem(
                    file=self.name,
                    line=mark.line + 1 if mark else None,
                    message=f"YAML error: {exc.problem or exc.context}",
                )
            )
            return None
        except yaml.YAMLError as exc:
            self.problem(f"YAML error: {exc}")
            return None
        finally:
            loader.dispose()


def _describe(err: Any) -> str:
    kind = err.get("type", "")
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return "unknown field (not part of the knowledge format)"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "too_short":
        return "must not be an empty list"
    msg: str = err.get("msg", "invalid value")
    return msg


def _check_references(checker: _FileChecker, model: KnowledgeFile) -> None:
    categories = {c.id for c in model.categories}
    entities = {e.id for e in model.entities}
    intents = {i.id for i in model.intents}
    for n, intent in enumerate(model.intents):
        if intent.category not in categories:
            checker.problem(
                f"category '{intent.category}' is not defined in categories",
                ("intents", n, "category"),
            )
        for r, ref in enumerate(intent.related):
            if ref not in intents:
                checker.problem(
                    f"related intent '{ref}' does not exist", ("intents", n, "related", r)
                )
            elif ref == intent.id:
                checker.problem(
                    "an intent cannot be related to itself", ("intents", n, "related", r)
                )
        seen_entities: set[str] = set()
        for a, answer in enumerate(intent.entity_answers):
            loc = ("intents", n, "entity_answers", a, "entity")
            if answer.entity not in entities:
                checker.problem(f"entity '{answer.entity}' does not exist", loc)
            if answer.entity in seen_entities:
                checker.problem(f"entity '{answer.entity}' has two answers in this intent", loc)
            seen_entities.add(answer.entity)
    for n, entity in enumerate(model.entities):
        if entity.default_intent is not None and entity.default_intent not in intents:
            checker.problem(
                f"default intent '{entity.default_intent}' does not exist",
                ("entities", n, "default_intent"),
            )


def _check_duplicates_in_file(checker: _FileChecker, model: KnowledgeFile) -> None:
    sections: tuple[tuple[str, list[str]], ...] = (
        ("categories", [c.id for c in model.categories]),
        ("entities", [e.id for e in model.entities]),
        ("intents", [i.id for i in model.intents]),
    )
    for section, ids in sections:
        first: dict[str, int] = {}
        for n, item_id in enumerate(ids):
            if item_id in first:
                checker.problem(
                    f"duplicate id '{item_id}' (first used by {section}[{first[item_id]}])",
                    (section, n, "id"),
                )
            else:
                first[item_id] = n
    owner: dict[str, tuple[str, int]] = {}
    for n, entity in enumerate(model.entities):
        for s, synonym in enumerate([entity.name, *entity.synonyms]):
            key = phrasing_key(synonym)
            if key in owner and owner[key][0] != entity.id:
                checker.problem(
                    f"synonym '{synonym}' is also used by entity '{owner[key][0]}'",
                    ("entities", n, "synonyms", s - 1) if s else ("entities", n, "name"),
                )
            owner.setdefault(key, (entity.id, n))


def _check_quotes(checker: _FileChecker, model: KnowledgeFile, knowledge_root: Path) -> str | None:
    doc_path = (knowledge_root / model.incident.source.document).resolve()
    if not doc_path.is_relative_to(knowledge_root.resolve()):
        checker.problem(
            "the source document must be inside the knowledge folder",
            ("incident", "source", "document"),
        )
        return None
    try:
        document = doc_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        checker.problem(
            f"cannot read the source document {doc_path.name}: {exc}",
            ("incident", "source", "document"),
        )
        return None
    for n, intent in enumerate(model.intents):
        for q, quote in enumerate(intent.quotes):
            if quote not in document:
                checker.problem(
                    f"quote is not verbatim in {doc_path.name}: {quote[:60]!r}",
                    ("intents", n, "quotes", q),
                )
        for a, answer in enumerate(intent.entity_answers):
            for q, quote in enumerate(answer.quotes):
                if quote not in document:
                    checker.problem(
                        f"quote is not verbatim in {doc_path.name}: {quote[:60]!r}",
                        ("intents", n, "entity_answers", a, "quotes", q),
                    )
    return document


def load_knowledge(
    paths: Sequence[Path],
    *,
    max_file_bytes: int = 1_000_000,
    max_aliases: int = 50,
    knowledge_root: Path | None = None,
) -> Knowledge:
    """Read and validate knowledge files (or folders of them); raise KnowledgeInvalid on any
    problem, listing all of them."""
    files = knowledge_files(paths)
    problems: list[KnowledgeProblem] = []
    if not files:
        where = ", ".join(str(p) for p in paths) or "(nothing given)"
        raise KnowledgeInvalid([KnowledgeProblem(file=where, message="no knowledge files found")])
    checked: list[tuple[_FileChecker, KnowledgeFile, bytes, str]] = []
    # Every file that parsed into a model takes part in the cross-file checks, even one with
    # other problems, so that a duplicate phrasing is reported together with them.
    validated: list[tuple[_FileChecker, KnowledgeFile]] = []
    for path in files:
        checker = _FileChecker(path, max_file_bytes, max_aliases)
        result = checker.read()
        if result is not None:
            model, raw = result
            validated.append((checker, model))
            _check_duplicates_in_file(checker, model)
            _check_references(checker, model)
            root = knowledge_root or path.parent
            document = _check_quotes(checker, model, root)
            if document is not None and not checker.problems:
                checked.append((checker, model, raw, document))
        problems.extend(checker.problems)

    # Across files: ids and phrasings must be unique in the whole knowledge base.
    intent_owner: dict[str, str] = {}
    entity_owner: dict[str, str] = {}
    phrasing_owner: dict[str, str] = {}
    for checker, model in validated:
        for n, intent in enumerate(model.intents):
            if intent.id in intent_owner and intent_owner[intent.id] != checker.name:
                checker.problem(
                    f"intent id '{intent.id}' is also defined in {intent_owner[intent.id]}",
                    ("intents", n, "id"),
                )
            intent_owner.setdefault(intent.id, checker.name)
            for p, phrasing in enumerate(intent.phrasings):
                key = phrasing_key(phrasing)
                other = phrasing_owner.get(key)
                if other is not None and other != intent.id:
                    checker.problem(
                        f"phrasing {phrasing!r} is also a phrasing of intent '{other}'",
                        ("intents", n, "phrasings", p),
                    )
                phrasing_owner.setdefault(key, intent.id)
        for n, entity in enumerate(model.entities):
            if entity.id in entity_owner and entity_owner[entity.id] != checker.name:
                checker.problem(
                    f"entity id '{entity.id}' is also defined in {entity_owner[entity.id]}",
                    ("entities", n, "id"),
                )
            entity_owner.setdefault(entity.id, checker.name)
        problems.extend(p for p in checker.problems if p not in problems)
    if problems:
        raise KnowledgeInvalid(problems)

    digest = hashlib.sha256()
    sources: list[KnowledgeSource] = []
    for checker, model, raw, document in checked:
        sha = hashlib.sha256(raw).hexdigest()
        digest.update(checker.path.name.encode() + b"\0" + sha.encode())
        sources.append(KnowledgeSource(checker.path, model, document, sha))
    intents = {i.id: (i, s) for s in sources for i in s.model.intents}
    return Knowledge(tuple(sources), digest.hexdigest(), intents)

"""Engine replies -> Telegram messages: HTML with every dynamic part escaped, split to fit.

Pure functions: no network, no PTB application; easy to test with parametrize.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.engine.answers import Reply, Suggestion

MESSAGE_LIMIT = 4096  # characters of text after entity parsing (Telegram's limit)
BUTTON_TEXT_LIMIT = 60
CALLBACK_LIMIT = 64  # bytes
INLINE_TITLE_LIMIT = 100
ASK_PREFIX = "q:"
TOPIC_PREFIX = "t:"
FEEDBACK_PREFIX = "f:"


@dataclass(frozen=True)
class Block:
    """A piece of a message: plain text and the HTML tag it is wrapped in (if any)."""

    text: str
    tag: str | None = None


def _render(block: Block) -> str:
    escaped = html.escape(block.text, quote=False)
    if block.tag is None:
        return escaped
    return f"<{block.tag}>{escaped}</{block.tag}>"


def _split_text(text: str, limit: int) -> list[str]:
    """Split plain text into pieces whose escaped form fits `limit`, at spaces if possible."""
    pieces: list[str] = []
    rest = text
    while rest:
        if len(html.escape(rest, quote=False)) <= limit:
            pieces.append(rest)
            break
        cut = limit
        while cut > 1 and len(html.escape(rest[:cut], quote=False)) > limit:
            cut = int(cut * 0.9)
        space = rest.rfind(" ", 0, cut)
        if space > cut // 2:
            cut = space
        pieces.append(rest[:cut])
        rest = rest[cut:].lstrip()
    return [piece for piece in pieces if piece.strip()]


def render_blocks(blocks: list[Block], limit: int = MESSAGE_LIMIT) -> list[str]:
    """Join blocks into HTML messages of at most `limit` characters each, never cutting
    inside a tag or an escape sequence. Blocks are separated by blank lines."""
    overhead = 2 * 14  # room for the tags around a piece
    rendered: list[str] = []
    for block in blocks:
        if not block.text.strip():
            continue  # Telegram refuses a message that is only whitespace
        if len(_render(block)) <= limit:
            rendered.append(_render(block))
        else:
            rendered.extend(
                _render(Block(piece, block.tag))
                for piece in _split_text(block.text, limit - overhead)
            )
    messages: list[str] = []
    current = ""
    for part in rendered:
        candidate = f"{current}\n\n{part}" if current else part
        if len(candidate) <= limit:
            current = candidate
        else:
            messages.append(current)
            current = part
    if current:
        messages.append(current)
    return messages or [""]


def _label(text: str) -> str:
    return text if len(text) <= BUTTON_TEXT_LIMIT else text[: BUTTON_TEXT_LIMIT - 1] + "…"


def callback_data(prefix: str, value: str) -> str:
    data = f"{prefix}{value}"
    if len(data.encode()) > CALLBACK_LIMIT:
        raise ValueError(f"callback data too long: {data!r}")
    return data


def question_buttons(
    suggestions: tuple[Suggestion, ...] | list[Suggestion],
) -> list[list[InlineKeyboardButton]]:
    """One button per question; pressing it asks that intent."""
    return [
        [
            InlineKeyboardButton(
                _label(s.question), callback_data=callback_data(ASK_PREFIX, s.intent_id)
            )
        ]
        for s in suggestions
    ]


def reply_blocks(reply: Reply, *, short: bool = False) -> list[Block]:
    """The blocks of a reply; `short` (groups, channels) leaves out the quotes."""
    blocks = [Block(reply.text)]
    if reply.kind == "answer" and reply.source is not None:
        src = reply.source
        label = "Source" if reply.english else "출처"
        blocks.append(Block(f"{label}: {src.publisher}, {src.published}", "i"))
        if not short:
            blocks.extend(Block(f"“{quote}”", "blockquote") for quote in src.quotes)
    elif reply.suggestions and short:
        blocks.append(Block("\n".join(f"• {s.question}" for s in reply.suggestions)))
    return blocks


def reply_markup(reply: Reply, *, feedback: int | None = None) -> InlineKeyboardMarkup | None:
    """Buttons under a reply: follow-ups after an answer, choices after a 'did you mean',
    topics after a refusal; 👍/👎 on answers when `feedback` is the question's record id."""
    rows: list[list[InlineKeyboardButton]]
    if reply.kind == "answer":
        rows = question_buttons(reply.related[:3])
        if feedback is not None and reply.intent_id:
            rows.append(
                [
                    InlineKeyboardButton(
                        "👍", callback_data=callback_data(FEEDBACK_PREFIX, f"+:{feedback}")
                    ),
                    InlineKeyboardButton(
                        "👎", callback_data=callback_data(FEEDBACK_PREFIX, f"-:{feedback}")
                    ),
                ]
            )
    else:
        rows = question_buttons(reply.suggestions[:4])
    return InlineKeyboardMarkup(rows) if rows else None


def format_reply(reply: Reply, *, short: bool = False) -> list[str]:
    """A reply as one or more HTML messages within Telegram's limit."""
    return render_blocks(reply_blocks(reply, short=short))


def plain_reply(reply: Reply) -> str:
    """The reply as plain text (inline results insert this, with its source)."""
    lines = [reply.text]
    if reply.source is not None:
        src = reply.source
        lines.append(f"— {src.publisher}, {src.published}: “{' … '.join(src.quotes)}”")
    text = "\n".join(lines)
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 1] + "…"

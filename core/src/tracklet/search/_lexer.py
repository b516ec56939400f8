"""Tokenizer for filter strings and order-by entries.

Token kinds:

- ``IDENT``: a field reference, ``metrics.loss``, ``tags.`a b```, ``params."p q"``,
  ``tags.mlflow.runName``, ``start_time``, ```run name```; ``prefix`` is the part
  before the first dot (None for a bare attribute), ``value`` the key, unquoted;
- ``KEYWORD``: ``AND OR NOT IN LIKE ILIKE IS NULL ASC DESC`` in any case; ``value``
  is the upper-case word;
- ``STRING``: ``'…'`` or ``"…"``; a quote inside is written doubled (``'it''s'``)
  or backslashed (``'it\\'s'``); ``value`` is the text;
- ``NUMBER``: ``1``, ``-2.5``, ``.5``, ``1e-3``; ``value`` is the source text;
- ``OP``: ``= != < <= > >=``; ``LPAREN``, ``RPAREN``, ``COMMA``; ``EOF``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

TokenKind = Literal["IDENT", "KEYWORD", "STRING", "NUMBER", "OP", "LPAREN", "RPAREN", "COMMA", "EOF"]

KEYWORDS = frozenset({"AND", "OR", "NOT", "IN", "LIKE", "ILIKE", "IS", "NULL", "ASC", "DESC"})

_NAME = r"[^\W\d]\w*"
_BACKQUOTED = r"`[^`]*`"
_SINGLE = r"'(?:''|\\'|[^'])*'"
_DOUBLE = r'"(?:""|\\"|[^"])*"'
# An unquoted key is word characters and dots (tags.mlflow.runName); others need quotes.
_BARE_KEY = r"\w+(?:\.\w+)*"
_TOKEN = re.compile(
    rf"""
    (?P<space>\s+)
    | (?P<ident>(?:{_NAME}|{_BACKQUOTED})(?:\.(?:{_BARE_KEY}|{_BACKQUOTED}|{_SINGLE}|{_DOUBLE}))?)
    | (?P<string>{_SINGLE}|{_DOUBLE})
    | (?P<number>-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
    | (?P<op><=|>=|!=|=|<|>)
    | (?P<lparen>\()
    | (?P<rparen>\))
    | (?P<comma>,)
    """,
    re.VERBOSE,
)
_UNESCAPE = {"'": re.compile(r"''|\\'"), '"': re.compile(r'""|\\"')}


@dataclass(frozen=True)
class Token:
    """One token: its kind, decoded value, source text and 0-based position."""

    kind: TokenKind
    value: str
    text: str
    pos: int
    prefix: str | None = None  # IDENT only: "metrics" in metrics.loss


class LexError(ValueError):
    """A character that starts no token; ``pos`` is where."""

    def __init__(self, message: str, pos: int) -> None:
        super().__init__(message)
        self.pos = pos


def unquote(text: str) -> str:
    """The content of a quoted string or backquoted name, escapes resolved."""
    quote, body = text[0], text[1:-1]
    if quote == "`":
        return body
    return _UNESCAPE[quote].sub(quote, body)


def _is_quoted(text: str) -> bool:
    return len(text) >= 2 and text[0] == text[-1] and text[0] in "`'\""


def _ident(text: str) -> tuple[str | None, str]:
    """Split ``prefix.key`` at the first dot outside quotes; unquote both parts."""
    if text.startswith("`"):
        end = text.index("`", 1) + 1
        head, rest = text[:end], text[end:]
    else:
        head, dot, rest = text.partition(".")
        rest = dot + rest
    if not rest:
        return None, unquote(head) if _is_quoted(head) else head
    key = rest[1:]
    prefix = unquote(head) if _is_quoted(head) else head
    return prefix, unquote(key) if _is_quoted(key) else key


def _make(kind: str, text: str, pos: int) -> Token:
    if kind == "ident":
        if text.upper() in KEYWORDS:
            return Token("KEYWORD", text.upper(), text, pos)
        prefix, key = _ident(text)
        return Token("IDENT", key, text, pos, prefix)
    if kind == "string":
        return Token("STRING", unquote(text), text, pos)
    upper = kind.upper()
    assert upper in ("NUMBER", "OP", "LPAREN", "RPAREN", "COMMA")
    return Token(upper, text, text, pos)  # type: ignore[arg-type]


def tokenize(source: str) -> list[Token]:
    """All tokens of ``source``, ending with an ``EOF`` token; raises :class:`LexError`."""
    tokens: list[Token] = []
    pos = 0
    while pos < len(source):
        match = _TOKEN.match(source, pos)
        if match is None:
            raise LexError(_lex_problem(source, pos, tokens[-1] if tokens else None), pos)
        kind = match.lastgroup
        assert kind is not None
        if kind != "space":
            tokens.append(_make(kind, match.group(), pos))
        pos = match.end()
    tokens.append(Token("EOF", "", "", len(source)))
    return tokens


def _lex_problem(source: str, pos: int, previous: Token | None) -> str:
    if source[pos] == "." and source[pos + 1 : pos + 2] in ("'", '"', "`"):
        pos += 1  # metrics.`open: report the quote, not the dot
    char = source[pos]
    if char in "'\"`":
        return f"unterminated quote {char} starting at position {pos}"
    hint = ""
    if previous is not None and previous.kind == "IDENT" and previous.pos + len(previous.text) == pos:
        hint = (
            " (quote keys containing other characters than letters, digits, '_' and '.' "
            "with backquotes, e.g. metrics.`my-metric`)"
        )
    return f"unexpected character {char!r} at position {pos}{hint}"

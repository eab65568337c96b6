"""Seeded secret values and the scanner that looks for them (and their derived forms) in bytes.

Each secret is random and unique per run, so a hit can only come from a leak. Besides the value
itself the scanner looks for the forms a leak usually takes: URL-encoded, JSON-escaped, Python
``repr``, base64 at each of the three byte alignments (a secret inside a longer base64 blob, like an
``Authorization: Basic`` header), and any 8 leading or 8 trailing characters of each form (a
truncated ``secret[:12]...`` in a message is a leak too).
"""

from __future__ import annotations

import base64
import json
import secrets as _random
import string
from dataclasses import dataclass, field
from urllib.parse import quote, quote_plus

PIECE = 8  # a leak of this many leading (or trailing) characters counts
_ALNUM = string.ascii_letters + string.digits


def _letters(n: int) -> str:
    return "".join(_random.choice(_ALNUM) for _ in range(n))


def random_value() -> str:
    """A fresh secret: random letters around characters that URL/JSON/repr encode differently."""
    return f"{_letters(14)}+/&=\"\\ %{_letters(14)}"


def url_safe_value() -> str:
    """A fresh secret made of characters every transport accepts unchanged (registry passwords,
    bearer tokens, AWS keys)."""
    return _letters(32)


def _b64_forms(value: bytes) -> list[bytes]:
    """Substrings every base64 encoding of ``value`` contains, whatever bytes precede it."""
    out = []
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + value)
        # drop the characters mixed with the unknown prefix and with whatever follows
        start = (shift * 4 + 2) // 3 + (1 if shift else 0)
        end = len(encoded) - 4
        piece = encoded[start:end]
        if len(piece) >= PIECE:
            out.append(piece)
            out.append(piece.replace(b"+", b"-").replace(b"/", b"_"))  # urlsafe base64
    return out


@dataclass
class Secret:
    """One seeded secret: what it is and where it may legitimately go."""

    kind: str  # e.g. "env: secret", "registry password"
    value: str
    patterns: list[bytes] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        raw = self.value
        forms = {raw, quote(raw, safe=""), quote_plus(raw), json.dumps(raw)[1:-1], repr(raw)[1:-1],
                 json.dumps(json.dumps(raw))[3:-3]}
        found: set[bytes] = set()
        for form in forms:
            data = form.encode()
            found.update({data[:PIECE], data[-PIECE:]})
        found.update(_b64_forms(raw.encode()))
        found.update({raw.encode("utf-16-le")[:2 * PIECE]})
        self.patterns = sorted(found, key=len, reverse=True)

    def __repr__(self) -> str:  # a failing assertion must not print the secret itself
        return f"Secret({self.kind!r})"


@dataclass(frozen=True)
class Hit:
    """A seeded secret (in some form) found where it must not be."""

    place: str
    kind: str
    offset: int
    context: str

    def __str__(self) -> str:
        return f"{self.place}: {self.kind} at byte {self.offset}: ...{self.context}..."


def _grams(seeds: list["Secret"]) -> set[bytes]:
    out = set()
    for seed in seeds:
        for form in (seed.value.encode(), *seed.patterns):
            out.update(form[i:i + 4] for i in range(len(form) - 3))
    return out


def _redacted_context(data: bytes, start: int, length: int, grams: set[bytes]) -> str:
    """40 bytes either side of a hit with every byte that could belong to a secret masked."""
    lo, hi = max(0, start - 40), min(len(data), start + length + 40)
    window = bytearray(data[lo:hi])
    masked = [False] * len(window)
    for i in range(len(window) - 3):
        if bytes(window[i:i + 4]) in grams:
            masked[i:i + 4] = [True] * 4
    for i in range(start - lo, min(len(window), start - lo + length)):
        masked[i] = True
    text = "".join("*" if m else chr(b) if 32 <= b < 127 else "." for b, m in zip(window, masked))
    return text


class Scanner:
    """Looks for every seeded secret in every byte it is given; counts what it scanned."""

    def __init__(self, seeds: list[Secret]) -> None:
        self.seeds = seeds
        self.sources: dict[str, list[int]] = {}  # source kind -> [items, bytes]
        self._grams = _grams(seeds)

    def add(self, seed: Secret) -> None:
        """Look for ``seed`` too from now on (a secret known only once a cloud handed it out)."""
        self.seeds.append(seed)
        self._grams |= _grams([seed])

    def scan(self, place: str, data: bytes | str, source: str, allow: frozenset[str] = frozenset()) -> list[Hit]:
        """Hits of every seed (except kinds in ``allow``) in ``data``; ``source`` groups counts."""
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        counts = self.sources.setdefault(source, [0, 0])
        counts[0] += 1
        counts[1] += len(data)
        hits = []
        for seed in self.seeds:
            if seed.kind in allow:
                continue
            for pattern in seed.patterns:
                at = data.find(pattern)
                if at >= 0:
                    hits.append(Hit(place, seed.kind, at, _redacted_context(data, at, len(pattern), self._grams)))
                    break
        return hits

    def contains(self, data: bytes | str, seed: Secret) -> bool:
        """Whether ``data`` holds ``seed``'s raw value (to prove a destination got it)."""
        if isinstance(data, str):
            data = data.encode()
        return seed.value.encode() in data or json.dumps(seed.value)[1:-1].encode() in data

    def summary(self) -> str:
        """One line per source kind: items and bytes scanned."""
        return "\n".join(f"{k}: {n} item(s), {b} bytes" for k, (n, b) in sorted(self.sources.items()))

"""Chinese word segmentation (jieba), loaded on the first Chinese text and kept cheap.

jieba's own dictionary has 349,000 words and takes about a second and 60 MB to load; the
words that occur at least `MIN_FREQUENCY` times in its corpus (about 80,000) segment customer
complaints the same way and load in a quarter of that. The trimmed copy is written once per
machine next to jieba's cache. Nothing is imported or read before a Chinese character is seen,
so `voc --help` and an English or Russian company never pay for it. Words added with
`add_words` (the departments file's Chinese keywords) are kept whole.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import threading
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

MIN_FREQUENCY = 20
_CLAUSE = re.compile(r"([\s,.!?;:，。！？；：、（）()“”\"'《》]+)")
HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")

_lock = threading.Lock()
_tokenizer: Any = None
_extra: set[str] = set()


def has_han(text: str) -> bool:
    """Whether the text holds a Chinese character."""
    return HAN.search(text) is not None


def add_words(words: Iterable[str]) -> None:
    """Keep these words whole when segmenting (now, or when the dictionary loads)."""
    new = {w for w in words if has_han(w)} - _extra
    if not new:
        return
    with _lock:
        _extra.update(new)
        if _tokenizer is not None:
            for word in new:
                _tokenizer.add_word(word, freq=1_000_000)


def segment(text: str) -> list[str]:
    """The words of a Chinese (or mixed) text, jieba's precise mode without the HMM guesser.
    Clauses (between punctuation) are segmented once each: jieba is pure Python, about 20 µs
    a character, and a company's texts repeat their clauses ("没人回", "一直收不到")."""
    words: list[str] = []
    for clause in _CLAUSE.split(text):
        if clause:
            words.extend(_clause(clause) if has_han(clause) else (clause,))
    return words


@lru_cache(maxsize=65536)
def _clause(clause: str) -> tuple[str, ...]:
    if clause in _extra:
        # A word added whole (a keyword of the departments file) is jieba's answer for itself:
        # its frequency (1,000,000) is above every word of the dictionary, and a split into k
        # pieces scores k log-probabilities, each no higher than the whole word's. Answering it
        # here keeps the dictionary (about 15 MiB) unloaded until a text needs it, so a company
        # with Chinese keywords pays nothing at start.
        return (clause,)
    return tuple(_load().cut(clause, HMM=False))


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or tempfile.gettempdir()
    path = Path(base) / "voc-bot-jieba"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _trimmed_dictionary(source: Path, cache: Path) -> Path:
    """jieba's dictionary without its rare words, written atomically once."""
    target = cache / f"dict-{MIN_FREQUENCY}-{source.stat().st_size}.txt"
    if not target.exists():
        kept = [line for line in source.read_text(encoding="utf-8").splitlines()
                if len(parts := line.split(" ")) >= 2 and parts[1].isdigit()
                and int(parts[1]) >= MIN_FREQUENCY]
        fd, temporary = tempfile.mkstemp(dir=cache, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write("\n".join(kept) + "\n")
        os.replace(temporary, target)
    return target


def _load() -> Any:
    global _tokenizer
    if _tokenizer is not None:
        return _tokenizer
    with _lock:
        if _tokenizer is None:
            import jieba

            jieba.setLogLevel(logging.WARNING)
            logging.getLogger("jieba").setLevel(logging.WARNING)
            cache = _cache_dir()
            source = Path(jieba.__file__).parent / "dict.txt"
            tokenizer = jieba.Tokenizer(str(_trimmed_dictionary(source, cache)))
            tokenizer.tmp_dir = str(cache)
            tokenizer.initialize()
            for word in _extra:
                tokenizer.add_word(word, freq=1_000_000)
            _tokenizer = tokenizer
    return _tokenizer

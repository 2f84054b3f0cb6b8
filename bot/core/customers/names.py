"""A customer text in forms that compare: what is left of the name once its legal form, quotes,
case and punctuation are gone, written in Latin letters, and a skeleton of how it sounds.

Russian is written in Latin letters with the practical table (BGN/PCGN without its marks:
х kh, ц ts, щ shch, й y, я ya), which is what companies use for their Latin names (Yandex,
Rostelecom); GOST 7.79 system B's ц cz and щ shh, and the passports' (ICAO) я ia and ю iu,
land on the same skeleton.
The skeleton tolerates the rest of transliteration and English spelling: vowels become one
mark, doubled letters one letter, and letters that sound alike one sign ("Pied Piper" and
"Пайд Пайпер" are both `pVd pVpVr`). Chinese stays in its characters: without a romanisation
(pinyin) table a Chinese and a Latin name never compare, an account's aliases join them.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# Practical transliteration (BGN/PCGN without marks); Ukrainian letters as people type them.
CYRILLIC_TO_LATIN = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh", "з": "z",
    "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r",
    "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh",
    "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu", "я": "ya",
    "і": "i", "ї": "yi", "є": "ye", "ґ": "g",
}

# Legal forms and words that say "a company" rather than which one, as token sequences; they
# are dropped from either end of a name, repeatedly ("OOO «X» LLC" is X).
_FORMS = """
inc|incorporated|corp|corporation|co|company|companies|cos|ltd|limited|llc|lc|pllc|llp|lp|plc
gmbh|mbh|ag|kg|ohg|ug|se|sa|sas|sarl|srl|spa|bv|nv|oy|oyj|ab|asa|kk|pte|pty|pvt|bhd|sdn
jsc|pjsc|ojsc|cjsc|ooo|zao|oao|pao|group|holding|holdings|the|and
limited liability company|public limited company|joint stock company|co ltd|pty ltd|pte ltd
ооо|оао|зао|пао|ао|нао|ип|нко|ано|ук|гк|фгуп|гуп|муп|чоп|тоо|тд|торговый дом
компания|корпорация|холдинг|группа|группа компаний|общество с ограниченной ответственностью
акционерное общество|публичное акционерное общество|закрытое акционерное общество
открытое акционерное общество|непубличное акционерное общество|индивидуальный предприниматель
"""
FORMS: frozenset[tuple[str, ...]] = frozenset(
    tuple(phrase.split()) for phrase in _FORMS.replace("\n", "|").split("|") if phrase.strip())
_LONGEST_FORM = max(len(form) for form in FORMS)

# Chinese company names are region + trade name + trade + organisation form
# (北京 字节跳动 科技 有限公司): the trade name is what identifies the customer.
_CHINESE_FORMS = (
    "集团股份有限公司 股份有限公司 有限责任公司 集团有限公司 有限公司 分公司 "
    "总公司 集团 公司 控股"
)
CHINESE_FORMS = tuple(_CHINESE_FORMS.split())
_CHINESE_TRADES = (
    "电子商务 信息技术 网络技术 科技 技术 网络 信息 软件 电子 贸易 物流 "
    "实业 投资 国际 传媒 文化 服务 咨询 在线 速运 快递"
)
CHINESE_TRADES = tuple(_CHINESE_TRADES.split())
_CHINESE_REGIONS = (
    "中国 北京 上海 天津 重庆 深圳 广州 杭州 南京 苏州 成都 武汉 西安 "
    "厦门 青岛 香港 台湾 澳门 广东 浙江 江苏 珠海 佛山 东莞 宁波 无锡 "
    "合肥 长沙 郑州 济南 大连 沈阳 福州"
)
CHINESE_REGIONS = tuple(_CHINESE_REGIONS.split())
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_PARENTHESES = re.compile(r"[(（]([^()（）]*)[)）]")
_APOSTROPHES = re.compile(r"(?<=\w)['’`](?=\w)")  # McDonald's: part of the word
_TOKEN = re.compile(r"[^\W_]+")

# How Latin letters sound, for the skeleton: longest spellings first.
_SOUNDS = (
    ("shch", "S"), ("sch", "S"), ("shh", "S"), ("sh", "S"), ("dzh", "J"), ("dj", "J"),
    ("zh", "Z"), ("ch", "C"), ("kh", "H"), ("cz", "T"), ("tz", "T"), ("ts", "T"), ("ph", "f"),
    ("th", "t"), ("gh", "g"), ("ck", "k"), ("ce", "se"), ("ci", "si"), ("cy", "sy"),
    ("ge", "Je"), ("gi", "Ji"), ("qu", "kv"), ("q", "k"), ("x", "ks"), ("w", "v"), ("c", "k"),
    ("h", "H"), ("j", "J"),
)
_SOUND = re.compile("|".join(re.escape(spelling) for spelling, _ in _SOUNDS))
_SOUND_OF = dict(_SOUNDS)
_W_AS_VOWEL = re.compile(r"(?<=[aeiou])w(?![aeiouy])")  # Hewlett, Snow: a vowel there
_VOWELS = re.compile(r"[aeiouy]+")
_ENDINGS = (("of", "ov"), ("tech", "tek"), ("kh", "k"))  # Tinkoff: -ов; Rostec: Ростех
# Vowels as Russian writes what English spells (Hooli: Хули, Dixy: Дикси, Huawei: Хуавэй).
_VOWEL_CLASS = {
    "a": "A", "ya": "A", "ia": "A", "e": "E", "ye": "E", "ae": "E", "o": "O", "yo": "O",
    "i": "I", "y": "I", "ee": "I", "ea": "I", "ie": "I", "yi": "I", "iy": "I", "ey": "EI",
    "u": "U", "oo": "U", "ou": "U", "yu": "U", "iu": "U",
}
_DOUBLED = re.compile(r"(.)\1+")
_DOUBLED_CONSONANT = re.compile(r"([^aeiouy])\1+")  # Mifflin, Паккард; not Hooli's "oo"


@dataclass(frozen=True)
class CustomerName:
    """One customer text in its comparable forms."""

    text: str  # as written
    tokens: tuple[str, ...]  # the name's words, legal forms dropped, in their own letters
    latin: tuple[str, ...]  # the same words in Latin letters (Chinese stays as it is)
    skeleton: tuple[str, ...]  # how each word sounds (see the module's docstring)
    voiced: tuple[str, ...]  # the same with its vowels told apart (Hooli: Хули, not Холли)
    scripts: frozenset[str]  # "latin", "cyrillic", "cjk"

    @property
    def key(self) -> str:
        """The name as one string of Latin letters and digits (or characters): equal keys
        are the same customer, whatever the spacing, case, legal form or alphabet."""
        return "".join(self.latin)

    @property
    def sound(self) -> str:
        """The skeleton's consonants, for finding candidates: vowels are the least reliable
        part of a transliterated name."""
        return "".join(self.skeleton).replace("V", "")

    @property
    def is_chinese(self) -> bool:
        """Whether the name is written in Chinese characters."""
        return "cjk" in self.scripts


def customer_name(text: str) -> CustomerName:
    """`text` in comparable forms; every form is empty when nothing but a legal form is left."""
    return _customer_name(text.strip()[:500])


@lru_cache(maxsize=4096)
def _customer_name(text: str) -> CustomerName:
    plain = unicodedata.normalize("NFKC", text).casefold().replace("&", " and ")
    plain = _APOSTROPHES.sub("", plain)
    plain = _PARENTHESES.sub(lambda m: "" if m.group(1).strip() in CHINESE_REGIONS
                             else f" {m.group(1)} ", plain)
    tokens = _without_forms(_joined_initials(_TOKEN.findall(plain)))
    tokens = tuple(word for token in tokens for word in _chinese_core(token))
    latin = tuple(_latin(token) for token in tokens)
    scripts = frozenset(script for token in tokens for script in _scripts(token))
    return CustomerName(text=text, tokens=tokens, latin=latin,
                        skeleton=tuple(_skeleton(word) for word in latin),
                        voiced=tuple(_voiced(word) for word in latin), scripts=scripts)


def _joined_initials(tokens: list[str]) -> list[str]:
    """Runs of single letters are one word: "I.B.M." and "L.L.C." are `ibm` and `llc`."""
    joined: list[str] = []
    run = ""
    for token in [*tokens, ""]:
        if len(token) == 1 and token.isalpha() and not _CJK.match(token):
            run += token
            continue
        if run:
            joined.append(run)
            run = ""
        if token:
            joined.append(token)
    return joined


def _without_forms(tokens: list[str]) -> tuple[str, ...]:
    """The words without legal forms at either end; all of them when nothing else is left
    would be a name (the text is then no name at all: empty)."""
    start, end = 0, len(tokens)
    changed = True
    while changed and start < end:
        changed = False
        for size in range(min(_LONGEST_FORM, end - start), 0, -1):
            if tuple(tokens[start:start + size]) in FORMS:
                start += size
                changed = True
                break
            if tuple(tokens[end - size:end]) in FORMS:
                end -= size
                changed = True
                break
    return tuple(tokens[start:end])


def _chinese_core(token: str) -> tuple[str, ...]:
    """A Chinese run without its region, trade and organisation form (a core of two characters
    at least stays); other tokens as they are."""
    if not _CJK.match(token):
        return (token,)
    changed = True
    while changed:
        changed = False
        for suffix in (*CHINESE_FORMS, *CHINESE_TRADES):
            if token.endswith(suffix) and len(token) - len(suffix) >= 2:
                token, changed = token[:-len(suffix)], True
        for region in CHINESE_REGIONS:
            for prefix in (f"{region}市", f"{region}省", region):
                if token.startswith(prefix) and len(token) - len(prefix) >= 2:
                    token, changed = token[len(prefix):], True
    return (token,) if token not in CHINESE_FORMS else ()


def _latin(token: str) -> str:
    if not _CYRILLIC.search(token):
        return token
    return "".join(CYRILLIC_TO_LATIN.get(char, char) for char in token)


def _scripts(token: str) -> set[str]:
    found = set()
    for char in token:
        if _CJK.match(char):
            found.add("cjk")
        elif _CYRILLIC.match(char):
            found.add("cyrillic")
        elif char.isalpha():
            found.add("latin")
    return found


def _consonants(word: str) -> str:
    """The word with its consonants as they sound and its vowels as they are."""
    word = _W_AS_VOWEL.sub("u", _DOUBLED_CONSONANT.sub(r"\1", word))
    for ending, sound in _ENDINGS:
        if word.endswith(ending):
            word = word[:-len(ending)] + sound
    # An English s sounds z often (Raiffeisen: Райффайзен).
    return _SOUND.sub(lambda m: _SOUND_OF[m.group(0)], word).replace("z", "s")


def _skeleton(word: str) -> str:
    if _CJK.search(word):
        return word
    # A final vowel is often silent (Beeline: Билайн).
    return _DOUBLED.sub(r"\1", _VOWELS.sub("V", _consonants(word))).removesuffix("V") or "V"


def _voiced(word: str) -> str:
    if _CJK.search(word):
        return word
    spoken = _VOWELS.sub(lambda m: _VOWEL_CLASS.get(m.group(0)) or "".join(
        _VOWEL_CLASS[char] for char in m.group(0)), _consonants(word))
    return _DOUBLED.sub(r"\1", spoken)


def blocks(name: CustomerName) -> tuple[str, str]:
    """(head, tail): the first and last two consonants of how the name sounds (characters for
    Chinese), under which its account's names are indexed: a typo or a transliteration rarely
    changes both ends."""
    sound = name.sound or name.key
    return sound[:2], sound[-2:]

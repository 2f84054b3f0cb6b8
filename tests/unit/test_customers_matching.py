"""Customer-name matching: the variants people write are one customer, near-misses are not."""

from __future__ import annotations

import pytest

from bot.core.customers.matching import Verdict, best_match, compare
from bot.core.customers.names import blocks, customer_name


def verdict(a: str, b: str) -> Verdict:
    return compare(customer_name(a), customer_name(b)).verdict


@pytest.mark.parametrize("variant", [
    "pied piper", "PIED PIPER", "PiedPiper", "Pied-Piper", "«Pied Piper»", "Pied  Piper.",
    "Pied Piper Inc.", "PiedPiper Inc.", "Pied Piper, LLC", "The Pied Piper Company",
    "Pied Piper GmbH", "Pied Piper Co., Ltd.",
])
def test_case_spacing_punctuation_quotes_and_legal_forms_are_ignored(variant: str) -> None:
    assert customer_name(variant).key == customer_name("Pied Piper").key
    assert verdict("Pied Piper", variant) is Verdict.SAME


@pytest.mark.parametrize(("a", "b"), [
    ("Ромашка", "ООО «Ромашка»"),
    ("Ромашка", "Общество с ограниченной ответственностью \"Ромашка\""),
    ("Газпром", "ПАО «Газпром»"),
    ("Звезда", "АО Звезда"),
    ("Иванов И. И.", "ИП Иванов И.И."),
    ("华为", "华为技术有限公司"),
    ("字节跳动", "北京字节跳动科技有限公司"),
    ("阿里巴巴", "阿里巴巴集团控股有限公司"),
    ("腾讯", "腾讯科技（深圳）有限公司"),
])
def test_russian_and_chinese_legal_forms_are_ignored(a: str, b: str) -> None:
    assert verdict(a, b) is Verdict.SAME


@pytest.mark.parametrize(("latin", "cyrillic"), [
    ("Pied Piper", "ООО «Пайд Пайпер»"),
    ("Yandex", "Яндекс"),
    ("Microsoft", "Майкрософт"),
    ("Hewlett Packard", "Хьюлетт Паккард"),
    ("Wildberries", "Вайлдберриз"),
    ("Tinkoff", "Тинькофф"),
    ("Rostec", "Ростех"),
    ("MTS", "МТС"),
    ("Hooli", "Хули"),
])
def test_russian_and_latin_spellings_of_one_name_are_the_same_customer(
        latin: str, cyrillic: str) -> None:
    assert verdict(latin, cyrillic) is Verdict.SAME


@pytest.mark.parametrize(("a", "b"), [
    ("Pied Piper", "Pied Pipper"), ("Pied Piper", "Pied Pipr"), ("Umbrella", "Umbrela"),
    ("Stark Industries", "Stark Industires"), ("Сбербанк", "Сбербнк"), ("Лукойл", "Лукоил"),
])
def test_small_typos_are_tolerated(a: str, b: str) -> None:
    assert verdict(a, b) is Verdict.SAME


@pytest.mark.parametrize(("a", "b"), [
    ("Pied Piper", "Pied Pipes Logistics"),  # another word changed and one more: another firm
    ("Pied Piper", "Пайд Пайпс Логистикс"),
    ("Massive Dynamic", "Passive Dynamic"),  # a slip rarely hits a word's first letter
    ("Vector", "Victor"), ("Магнит", "Магнат"),  # a changed vowel in a short word
    ("Oceanic Airlines", "Oceania Airlines"),  # a changed last letter
    ("МТС", "МТТ"), ("IBM", "IBN"),  # short names join only when equal
    ("Hooli", "Холли"), ("Magnit", "Магнат"),  # sound alike across alphabets, vowels differ
    ("Globex", "Globus"), ("Initech", "Initrode"), ("华为", "华夏"),
])
def test_a_near_miss_is_never_joined(a: str, b: str) -> None:
    assert verdict(a, b) is not Verdict.SAME


@pytest.mark.parametrize(("a", "b"), [
    ("Hooli", "Hooli XYZ"), ("ВТБ", "ВТБ Лизинг"), ("Яндекс", "Яндекс Маркет"),
    ("腾讯", "腾讯音乐"),
])
def test_a_name_plus_words_is_asked_about_not_joined(a: str, b: str) -> None:
    assert verdict(a, b) is Verdict.ASK


@pytest.mark.parametrize(("a", "b"), [
    ("Pied Piper", "Hooli"), ("Сбербанк", "Газпром"), ("华为", "小米"), ("华为", "Huawei"),
    ("ООО", "Inc."),  # only legal forms: no name at all
])
def test_different_customers_are_new(a: str, b: str) -> None:
    assert verdict(a, b) is Verdict.NEW


def test_the_best_account_wins_and_two_sure_accounts_are_asked_about() -> None:
    piper, hooli = customer_name("Pied Piper Inc."), customer_name("Hooli")
    match = best_match(customer_name("ООО «Пайд Пайпер»"), [(1, hooli), (2, piper)])
    assert (match.verdict, match.account_id, match.alias) == (Verdict.SAME, 2, "Pied Piper Inc.")

    twice = best_match(customer_name("Pied Piper"), [(2, piper), (7, customer_name("PiedPiper"))])
    assert twice.verdict is Verdict.ASK and twice.account_id in (2, 7)

    assert best_match(customer_name("Initech"), [(1, hooli)]).account_id is None


def test_a_misspelt_or_transliterated_name_shares_an_index_block_with_the_name() -> None:
    head, tail = blocks(customer_name("Pied Piper"))
    for variant in ("Пайд Пайпер", "Pied Pipper", "Peid Piper Inc."):
        other_head, other_tail = blocks(customer_name(variant))
        assert head == other_head or tail == other_tail, variant

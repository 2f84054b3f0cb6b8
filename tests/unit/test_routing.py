"""Keyword routing of signals against the example company's departments."""

import tomllib
from pathlib import Path

import pytest

from bot.core.routing import keywords as routing
from bot.core.routing.keywords import DepartmentProfile, Router, Suggestion, chinese

EXAMPLE_FILE = Path(__file__).resolve().parents[2] / "departments.example.toml"

# Measured 124/127 (0.976) on LABELLED; before the example keywords were tuned the first 95
# lines scored 91/95, and the last 32, never tuned on, score 29/32. The floor sits below those
# so that an honest keyword change does not break the build.
ACCURACY_FLOOR = 0.90

# Written as employees would type them, before the example keywords were tuned.
LABELLED: list[tuple[str, str]] = [
    # sales
    ("The salesman at the Khimki showroom was really pushy and kept upselling", "sales"),
    ("Client asked for a quote on 40 office chairs, still nothing from our manager", "sales"),
    ("Customer wanted the 15% discount from the flyer but the store refused to honour it", "sales"),
    ("Great consultant in the showroom, helped the customer pick everything fast", "sales"),
    ("The prices on the tags don't match what the manager quoted", "sales"),
    ("Customer asks if we can sign a corporate contract to furnish their hotel chain", "sales"),
    ("Продавец в салоне на Ленинском нахамил покупательнице", "sales"),
    ("Клиентке пообещали скидку 10%, а при оформлении заказа её не дали", "sales"),
    ("Менеджер так и не прислал коммерческое предложение, клиент ушёл к конкурентам", "sales"),
    ("Очень довольны консультантом Ириной, всё подробно объяснила и помогла выбрать", "sales"),
    ("Цены в салонах выше, чем обещали по телефону, клиент возмущён", "sales"),
    ("Клиент хочет заключить договор на поставку мебели для офиса, кто может связаться?", "sales"),
    # support
    ("Customer waited on hold for 40 minutes before anyone picked up", "support"),
    ("The operator on the hotline was rude and hung up on her", "support"),
    ("Nobody replied to the customer's emails for a week", "support"),
    ("Chat agent Pavel was super helpful, the customer wants to thank him", "support"),
    ("Customer called three times and got three different answers", "support"),
    ("Support promised to call back and never did", "support"),
    ("Клиент не может дозвониться на горячую линию уже второй день", "support"),
    ("Оператор в чате отвечает шаблонами и не решает вопрос", "support"),
    ("На письмо клиентки никто не ответил уже неделю", "support"),
    ("Клиентка благодарит оператора Анну за вежливость и терпение", "support"),
    ("Операторы кладут трубку, не дослушав клиента", "support"),
    ("В поддержке сказали одно, а в магазине совсем другое", "support"),
    # logistics
    ("The courier was two hours late and didn't call ahead", "logistics"),
    ("Sofa arrived with a torn corner, the box was clearly damaged in transit", "logistics"),
    ("Delivery was rescheduled twice without any warning", "logistics"),
    ("Customer wants to return the wardrobe but nobody came to pick it up", "logistics"),
    ("The drivers refused to carry the furniture up to the 5th floor", "logistics"),
    ("The assembly guys left a mess and scratched the floor", "logistics"),
    ("The order has been stuck at the warehouse for 10 days", "logistics"),
    ("Курьер опоздал на три часа и даже не предупредил", "logistics"),
    ("Доставку перенесли уже третий раз", "logistics"),
    ("Водители отказались заносить шкаф на пятый этаж без лифта", "logistics"),
    ("Привезли повреждённую коробку, внутри сломана ножка", "logistics"),
    ("Сборщики собрали кровать криво и уехали", "logistics"),
    ("Клиент оформил возврат две недели назад, а за товаром так никто и не приехал", "logistics"),
    # finance
    ("Customer was charged twice for the same order", "finance"),
    ("Still waiting for the refund after sending the chair back 3 weeks ago", "finance"),
    ("Corporate client needs a corrected invoice with their VAT number", "finance"),
    ("Customer never got a receipt for the payment", "finance"),
    (
        "The instalment plan terms weren't explained, customer is upset about the interest",
        "finance",
    ),
    ("Card payment failed but the money was taken anyway", "finance"),
    ("С клиента списали деньги дважды", "finance"),
    ("Клиентка ждёт возврат денег уже месяц", "finance"),
    ("Юрлицу нужен счёт на оплату с правильными реквизитами", "finance"),
    ("Не пришёл чек после оплаты картой", "finance"),
    ("Бухгалтерия не может найти платёж клиента", "finance"),
    ("Клиент спрашивает, почему переплата по рассрочке больше, чем обещали", "finance"),
    # it
    ("The website keeps crashing when adding items to the cart", "it"),
    ("Customer can't log in, the password reset link never arrives", "it"),
    ("Checkout page shows an error after entering card details", "it"),
    ("The mobile app freezes on the catalogue screen", "it"),
    ("Our internal CRM is down again, can't see any orders", "it"),
    ("Search on the site returns nothing for 'sofa'", "it"),
    ("Сайт не открывается с телефона", "it"),
    ("Приложение вылетает при открытии корзины", "it"),
    ("Клиент не может войти в личный кабинет", "it"),
    ("На странице товара ошибка 500", "it"),
    ("Не приходит смс с кодом для входа", "it"),
    ("Забыл пароль, восстановление не работает", "it"),
    # product
    ("The fabric on the Oslo sofa pills after two months", "product"),
    ("Customers keep asking for the dining table in a bigger size", "product"),
    ("Love the new autumn collection, customers are asking for more colors", "product"),
    ("The chair legs are wobbly, quality seems to have dropped", "product"),
    ("Please add a wall bed to the range, we get lots of requests", "product"),
    ("The colour in the catalogue photos doesn't match the real product", "product"),
    ("Ткань на диване протёрлась через полгода", "product"),
    ("Клиенты просят стулья другого цвета", "product"),
    ("Качество матрасов стало заметно хуже", "product"),
    ("Было бы здорово добавить в ассортимент детскую мебель", "product"),
    ("Материал столешницы вздулся от воды", "product"),
    ("Новая коллекция очень понравилась покупателям", "product"),
    # marketing
    ("Customer complains about getting 5 newsletters a week", "marketing"),
    ("Our Instagram ad promised free delivery, that isn't true", "marketing"),
    ("Bonus points from the loyalty programme disappeared from her card", "marketing"),
    ("Customer wants to unsubscribe from the SMS spam", "marketing"),
    ("The billboard campaign on Tverskaya got lots of positive comments", "marketing"),
    ("Customer couldn't figure out how to use the promo code from our email", "marketing"),
    ("Клиент жалуется на спам-рассылку, отписаться не получается", "marketing"),
    ("Баллы за покупку так и не начислили", "marketing"),
    ("Реклама в метро вводит в заблуждение", "marketing"),
    ("Клиентам понравился наш пост в соцсетях", "marketing"),
    ("Бонусы сгорели без предупреждения", "marketing"),
    ("Клиентка увидела рекламу в инстаграме и пришла к нам", "marketing"),
    # cco: its own vocabulary, and vague ones that nobody claims
    ("Overall the customer experience was great", "cco"),
    ("Customer gave us a 3 in the NPS survey without a comment", "cco"),
    ("The customer journey from first visit to first purchase is too long", "cco"),
    ("Впечатление от покупки в целом хорошее", "cco"),
    ("Клиентка ответила на опрос, всё понравилось", "cco"),
    ("Customer says thanks for everything", "cco"),
    ("Just wanted to share that a client was very happy", "cco"),
    ("Клиент просто сказал спасибо", "cco"),
    ("Хорошо", "cco"),
    ("Клиент сказал, что больше к нам не придёт", "cco"),
    # Written after the keywords were tuned on the lines above, and not tuned on.
    ("Manager promised a bulk discount for the restaurant order and then took it back", "sales"),
    ("The girl in the showroom didn't know anything about the models on display", "sales"),
    ("Менеджер в салоне на Профсоюзной три раза путал цены", "sales"),
    ("Клиенту дали неправильную цену в расчёте, он нашёл дешевле у конкурентов", "sales"),
    ("Customer spent an hour in the phone queue and the call dropped", "support"),
    ("Your chat bot just loops and never connects to a human", "support"),
    ("Оператор нагрубил клиентке и не представился", "support"),
    ("Никто не отвечает на почту поддержки", "support"),
    ("Courier didn't show up at all, customer took a day off for nothing", "logistics"),
    ("Parcel with the cushions was lost somewhere between warehouses", "logistics"),
    ("Курьеры привезли не тот комод", "logistics"),
    ("Доставили на неделю позже обещанного", "logistics"),
    ("Customer was billed for assembly they never ordered", "finance"),
    ("Refund went to the wrong card", "finance"),
    ("Деньги за отменённый заказ до сих пор не вернули", "finance"),
    ("Клиент просит закрывающие документы и акт сверки", "finance"),
    ("Login with Google doesn't work on the new site", "it"),
    ("App keeps logging customers out every few minutes", "it"),
    ("Сайт очень медленно грузится, страницы открываются по минуте", "it"),
    ("В приложении не отображаются фото товаров", "it"),
    ("The armchair cushions go flat really fast, customers are disappointed", "product"),
    ("Customers would love a sofa bed option in the Bergen line", "product"),
    ("Стол шатается, качество сборки на фабрике плохое", "product"),
    ("Клиенты спрашивают, когда будет диван в сером цвете", "product"),
    ("Customer keeps getting our promo emails after unsubscribing", "marketing"),
    ("The TV ad is annoying, a customer wrote about it on Facebook", "marketing"),
    ("Рассылка приходит по три раза в день", "marketing"),
    ("Клиент не понимает, как потратить бонусные баллы", "marketing"),
    ("Customer rated us 10 and said she'd recommend us to friends", "cco"),
    ("Клиент поделился впечатлениями о всём пути от выбора до покупки", "cco"),
    ("Просто хотел передать благодарность от клиента", "cco"),
    ("Customer was confused overall, not sure who should look at this", "cco"),
]


def load_example() -> tuple[list[DepartmentProfile], str]:
    """Read the departments and the triage slug from the example file."""
    data = tomllib.loads(EXAMPLE_FILE.read_text(encoding="utf-8"))
    departments = [
        DepartmentProfile(d["slug"], d["name"], d["description"], tuple(d["keywords"]))
        for d in data["department"]
    ]
    return departments, data["company"]["triage"]


@pytest.fixture(scope="module")
def router() -> Router:
    departments, triage = load_example()
    return Router(departments, triage)


def test_labelled_set_covers_every_department_in_both_languages() -> None:
    slugs = {slug for _, slug in LABELLED}
    assert slugs == {
        "sales",
        "support",
        "logistics",
        "finance",
        "it",
        "product",
        "marketing",
        "cco",
    }
    assert len(LABELLED) >= 90
    russian = sum(any("а" <= c <= "я" for c in text.lower()) for text, _ in LABELLED)
    assert 0.4 <= russian / len(LABELLED) <= 0.6


def test_labelled_accuracy(router: Router) -> None:
    misrouted = []
    for text, expected in LABELLED:
        got = router.suggest(text)
        if got.slug != expected:
            misrouted.append(f"  {expected} -> {got.slug} {got.matched}: {text}")
    accuracy = 1 - len(misrouted) / len(LABELLED)
    report = "\n".join(misrouted)
    assert accuracy >= ACCURACY_FLOOR, (
        f"accuracy {len(LABELLED) - len(misrouted)}/{len(LABELLED)} = {accuracy:.3f} "
        f"< {ACCURACY_FLOOR}; misrouted:\n{report}"
    )


@pytest.mark.parametrize("text", ["доставка задерживается", "доставки не было неделю",
                                  "перенесли доставку", "о доставке никто не предупредил"])
def test_every_case_of_a_russian_keyword_matches(router: Router, text: str) -> None:
    # The "same derivational ending" rule is for Latin words only: Russian inflections of a
    # keyword ("доставка": доставки, доставку, доставке) still match it.
    got = router.suggest(text)
    assert (got.slug, got.matched) == ("logistics", ("доставка",))


@pytest.mark.parametrize(("text", "slug", "word"), [
    ("Подушки в комплекте с диваном меньше, чем на картинке", "product", "диван"),
    ("Ножки дивана шатаются", "product", "диван"),
    ("Обивка из этого материала протёрлась", "product", "материал"),
    ("Отзывы на карточке товара не грузятся", "cco", "отзыв"),
    ("Жду звонка уже третий день", "support", "звонок"),
    ("Звонки сбрасываются на середине", "support", "звонок"),
])
def test_a_russian_keyword_matches_its_forms_that_snowball_stems_apart(
        router: Router, text: str, slug: str, word: str) -> None:
    # Snowball stems "диван" to "дива" but "диваном" to "диван"; "звонок" keeps its fleeting
    # vowel, "звонка" and "звонки" stem to "звонк".
    got = router.suggest(text)
    assert (got.slug, got.matched[:1]) == (slug, (word,))


@pytest.mark.parametrize("text", ["курьер опоздал", "курьеры опаздывают", "couriers were late"])
def test_late_couriers_go_to_logistics(router: Router, text: str) -> None:
    got = router.suggest(text)
    assert got.slug == "logistics"
    assert got.matched
    assert not got.is_fallback


@pytest.mark.parametrize(
    "text", ["", "   \n\t ", "Hello there", "Customer says thanks for everything"]
)
def test_nothing_matched_falls_back_to_triage(router: Router, text: str) -> None:
    assert router.suggest(text) == Suggestion("cco", (), True)


@pytest.mark.parametrize(
    ("text", "slug", "keyword"),
    [
        ("Посылку привезли повреждённой", "logistics", "повреждён"),
        ("Не могу зайти в личный кабинет", "it", "личный кабинет"),
        ("Когда будет возврат денег?", "finance", "возврат денег"),
        ("She was CHARGED twice", "finance", "charged"),
    ],
)
def test_matched_uses_the_files_spelling(
    router: Router, text: str, slug: str, keyword: str
) -> None:
    got = router.suggest(text)
    assert got.slug == slug
    assert keyword in got.matched


def test_matched_lists_at_most_five_in_file_order_on_equal_weight(router: Router) -> None:
    text = "Courier, driver, warehouse, parcel, shipping, delivery, assembly, all late, all damaged"
    got = router.suggest(text)
    assert got == Suggestion(
        "logistics", ("delivery", "courier", "driver", "late", "warehouse"), False
    )


def test_matched_puts_the_weightiest_first() -> None:
    departments = [
        DepartmentProfile("a", "A", "Crates and pallets", ("order", "box")),
        DepartmentProfile("b", "B", "", ("order",)),
    ]
    got = Router(departments, "b").suggest("the order came in a box, not in crates")
    assert got == Suggestion("a", ("box", "order", "Crates"), False)


def test_triage_department_matches_its_own_keywords(router: Router) -> None:
    assert router.suggest("NPS survey results are in") == Suggestion(
        "cco", ("nps", "survey"), False
    )


def test_keyword_outweighs_description_word() -> None:
    departments = [
        DepartmentProfile("a", "A", "Mattresses and pillows", ()),
        DepartmentProfile("b", "B", "Something else", ("mattress",)),
    ]
    assert Router(departments, "a").suggest("mattress sagged").slug == "b"


def test_shared_stem_counts_less_than_a_specific_one() -> None:
    departments = [
        DepartmentProfile("a", "A", "", ("order", "box")),
        DepartmentProfile("b", "B", "", ("order", "crate")),
        DepartmentProfile("c", "C", "", ("order", "invoice")),
        DepartmentProfile("d", "D", "", ("orders", "box")),
    ]
    # "order" is in three vocabularies, "crate" only in b's; "box" in two.
    assert Router(departments, "a").suggest("the order came in a crate").slug == "b"


def test_ties_go_to_the_first_department() -> None:
    departments = [
        DepartmentProfile("a", "A", "", ("sofa",)),
        DepartmentProfile("b", "B", "", ("chair",)),
    ]
    assert Router(departments, "a").suggest("chair and sofa").slug == "a"
    assert Router(list(reversed(departments)), "a").suggest("chair and sofa").slug == "b"


def test_no_departments_means_triage() -> None:
    assert Router([], "cco").suggest("anything at all") == Suggestion("cco", (), True)


@pytest.mark.parametrize(
    "text",
    [
        "🚚💨😡😡😡",
        "Courier 🚚 was late 😡",
        "العميل غير راضٍ عن التوصيل",
        "הלקוח לא מרוצה מהמשלוח",
        "'; DROP TABLE signal; --",
        "Robert'); DELETE FROM department WHERE slug LIKE '%",
        "\x00\x01\u200f\ufeff\ud800",
        "123 456 7890",
        "_ __ ___",
        "доставка " * 444,
        "x" * 4000,
    ],
)
def test_bad_input_never_raises(router: Router, text: str) -> None:
    got = router.suggest(text)
    assert isinstance(got, Suggestion)
    assert got.is_fallback == (got.matched == ())


def test_same_text_same_answer() -> None:
    departments, triage = load_example()
    text = "Курьеры опаздывают, а оператор в чате не отвечает"
    answers = {Router(departments, triage).suggest(text) for _ in range(3)}
    assert len(answers) == 1


def test_prefix_matching_fixes_forms_without_misrouting(
    router: Router, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "опоздание" stems to "опоздан", the file's "опоздал" to "опозда".
    late = "Опоздание на два часа"
    assert router.suggest(late) == Suggestion("logistics", ("опоздал",), False)
    with_prefix = {text: router.suggest(text).slug for text, _ in LABELLED}
    monkeypatch.setattr(routing, "PREFIX_MIN_LEN", 10**6)
    departments, triage = load_example()
    exact_only = Router(departments, triage)
    assert exact_only.suggest(late).is_fallback
    lost = [
        text
        for text, expected in LABELLED
        if exact_only.suggest(text).slug == expected and with_prefix[text] != expected
    ]
    assert lost == []


def test_words_skipped_before_stemming_could_not_have_matched(router: Router) -> None:
    departments, _ = load_example()
    words = {w for text, _ in LABELLED for w in routing.tokenize(text)}
    words |= {w for d in departments for k in d.keywords for w in routing.tokenize(k)}
    words |= {"dying", "lying", "tying", "aging", "crying", "skies", "ads", "hoping"}
    for word in words:
        heads = routing._heads(routing.stem(word))
        assert any(word.startswith(h) for h in heads), word


def test_the_reason_names_each_matching_word_once(router: Router) -> None:
    # One word of the text can match two keywords ("delivery" and "deliver"): named once.
    for text in ("The sofa was delivered late and the delivery crew was rude",
                 "Delivery was late again, deliveries always are"):
        words = [w.casefold() for w in router.suggest(text).matched]
        assert words and not any(a != b and (a.startswith(b) or b.startswith(a))
                                 for a in words for b in words), words


@pytest.mark.parametrize("text", ["The installer scratched the floor",
                                  "Installers came two hours late and left a mess",
                                  "Installation of the wardrobe took all day"])
def test_a_word_that_only_shares_a_stem_with_a_keyword_does_not_route(
        router: Router, text: str) -> None:
    # Snowball stems installer, installation and installment all to "instal".
    assert "installment" not in router.suggest(text).matched
    assert router.suggest(text).slug != "finance"


def test_colliding_stems_are_told_apart_by_their_endings() -> None:
    departments = [DepartmentProfile("money", "Money", "", ("installment", "management fee")),
                   DepartmentProfile("people", "People", "", ("manager",))]
    router = Router(departments, "people")
    assert router.suggest("the installments are too high").slug == "money"
    assert router.suggest("the installer was rude").is_fallback
    assert router.suggest("managers never call back").matched == ("manager",)
    assert router.suggest("a fee for management").slug == "money"


def test_one_russian_word_is_named_once_in_the_reason(router: Router) -> None:
    # "доставку" matches "доставка" exactly and "доставили" by prefix: one word of the text.
    assert router.suggest("Доставку перенесли") == Suggestion("logistics", ("доставка",), False)
    both = router.suggest("Доставку обещали в среду, а доставили в пятницу, курьер хамил")
    assert both.matched == ("доставка", "курьер")  # both forms matched both keywords


@pytest.mark.parametrize(("text", "slug", "word"), [
    ("快递员迟到了两个小时", "logistics", "快递员"),
    ("客服电话一直打不通", "support", "客服"),
    ("发票抬头开错了，需要重新开", "finance", "发票"),
    ("网站登录不了，密码重置邮件收不到", "it", "登录"),
    ("沙发面料用了两个月就起球", "product", "沙发"),
    ("Courier 快递员 was late", "logistics", "快递员"),
])
def test_chinese_is_segmented_and_routed(router: Router, text: str, slug: str, word: str) -> None:
    got = router.suggest(text)
    assert got.slug == slug
    assert word in got.matched


def test_chinese_stems_are_words_not_sentences() -> None:
    assert routing.stems("快递员迟到了，沙发也坏了") == ["快递员", "迟到", "沙发", "坏"]
    assert routing.stems("The couriers were late") == ["courier", "late"]


@pytest.mark.slow  # a fresh interpreter
def test_the_segmenter_loads_only_for_chinese_text() -> None:
    import subprocess
    import sys

    program = (
        "import sys\n"
        "from tests.unit.test_routing import load_example\n"
        "from bot.core.routing.keywords import Router\n"
        "router = Router(*load_example())\n"
        "router.suggest('The courier was late'); router.suggest('Курьер опоздал')\n"
        "print('jieba' in sys.modules)\n"
        "print(router.suggest('快递员迟到了').slug, 'jieba' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                          timeout=60, check=False, cwd=EXAMPLE_FILE.parent)
    assert done.stdout.split() == ["False", "logistics", "True"], done.stderr[-2000:]
    assert done.stderr == ""  # jieba's "Building prefix dict..." is silenced


def test_a_chinese_keyword_is_routed_as_jieba_would_without_loading_it() -> None:
    """Each keyword is its own segmentation (it was added whole): answered without the
    dictionary, so a company with Chinese keywords loads jieba only on a Chinese text."""
    departments, _ = load_example()
    keywords = {k.lower() for d in departments for k in d.keywords if chinese.has_han(k)}
    assert len(keywords) > 50
    chinese.add_words(keywords)
    tokenizer = chinese._load()
    for keyword in keywords:
        assert tuple(tokenizer.cut(keyword, HMM=False)) == (keyword,) == chinese._clause(keyword)

"""`voc demo`: weeks of realistic history, made through the core service with a moving clock.

Going through the service (not raw inserts) means every routing decision, SLA, event and
rating is what the real bot would have produced. The history's outbox messages are marked
skipped: they belong to the past and must not flood the channels of whoever tries the demo.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlmodel import func, select

from bot.core.reporting.digest import digest_figures, render_digest
from bot.core.reporting.periods import Week, pulse_round, round_bounds
from bot.core.reporting.pulses import asks
from bot.core.service import Draft, VocService
from bot.core.shared.errors import VocError
from jobs.excel import write_workbook
from storage import outbox
from storage.models import Signal

# (kind, text): realistic signals, each one distinct (no translated twins, so a digest's top
# verbatims never read as the same story twice); routing decides where they go.
SIGNALS: tuple[tuple[str, str], ...] = (
    ("complaint", "Courier was three hours late and did not call ahead"),
    ("complaint", "Курьер приехал в другой день, клиент отпросился с работы зря"),
    ("complaint", "The sofa arrived with a torn corner, packaging was damaged"),
    ("complaint", "Диван привезли с порванной обивкой на подлокотнике"),
    ("complaint", "Customer waited 40 minutes on the hotline before anyone answered"),
    ("complaint", "Чат поддержки на сайте не отвечает уже второй день"),
    ("complaint", "Charged twice for the same order, refund still not received"),
    ("complaint", "Возврат за отменённый заказ не пришёл через три недели"),
    ("complaint", "Checkout page crashes on the mobile app when paying by card"),
    ("complaint", "Приложение зависает на странице оплаты при вводе промокода"),
    ("complaint", "Can't log in to the account after the password reset"),
    ("complaint", "Не приходит СМС с кодом подтверждения при входе"),
    ("complaint", "Fabric on the new chair collection pills after two weeks"),
    ("complaint", "Дверца шкафа перекосилась через месяц, петли слабые"),
    ("complaint", "The sales manager promised a discount and then denied it"),
    ("complaint", "Менеджер в салоне не перезвонил, хотя обещал в тот же день"),
    ("complaint", "Newsletter keeps coming after the customer unsubscribed"),
    ("complaint", "В рекламе была одна цена, в магазине другая"),
    ("complaint", "Invoice has the wrong company details, accounting can't pay it"),
    ("complaint", "Закрывающие документы клиенту не прислали, бухгалтерия ждёт месяц"),
    ("complaint", "Assembly team left the wardrobe half-built"),
    ("complaint", "Сборщики поцарапали паркет и не извинились"),
    ("complaint", "Support operator was rude and hung up"),
    ("complaint", "Order tracking shows 'delivered' but nothing arrived"),
    ("complaint", "Клиентке дважды перенесли доставку без объяснений"),
    ("complaint", "Website search finds nothing for 'oak table' though it is in stock"),
    ("complaint", "Гарантийный ремонт стола тянется шестую неделю"),
    ("complaint", "The colour of the cushions differs from the photos in the catalogue"),
    ("praise", "Driver carried the sofa to the 5th floor without a lift, customer delighted"),
    ("praise", "Курьеры аккуратно занесли шкаф и убрали за собой упаковку"),
    ("praise", "Support solved the problem in one call, very polite"),
    ("praise", "Оператор поддержки сам перезвонил и всё уладил за 10 минут"),
    ("praise", "Customer loves the quality of the oak table"),
    ("praise", "Клиенту очень нравится, как сидит новый диван, обещал рекомендовать"),
    ("praise", "The showroom consultant helped pick the perfect colour"),
    ("praise", "Менеджер Ирина подобрала комплект для всей гостиной, клиентка счастлива"),
    ("praise", "Refund came back in one day, customer surprised"),
    ("praise", "Бухгалтерия быстро переоформила счёт на юрлицо, клиент благодарит"),
    ("praise", "The new mobile app makes re-ordering cushions a two-tap job"),
    ("praise", "Сборщик за полчаса собрал кровать и отрегулировал двери шкафа"),
    ("praise", "Customer says the spring campaign email was the most useful they get"),
    ("idea", "Let customers choose a two-hour delivery window"),
    ("idea", "Присылать клиенту фото курьера и номер машины перед доставкой"),
    ("idea", "Add a fabric samples section to the catalogue on the website"),
    ("idea", "Сделать в приложении примерку мебели в комнате через камеру"),
    ("idea", "Offer an installment plan without a bank visit"),
    ("idea", "Принимать оплату по QR-коду при получении"),
    ("idea", "Send bonus points for leaving a review"),
    ("idea", "Устроить в салоне день открытых дверей для дизайнеров"),
    ("idea", "Call every customer a week after assembly to ask how it is going"),
    ("praise", "Customer says thank you for everything"),
    ("complaint", "Клиент недоволен, но не объяснил почему"),
)
# How each example department works: (share acknowledged late, share never acknowledged,
# share left unresolved). Most departments keep their loop closed; a couple struggle, which
# is what a digest worth reading shows. Departments of other companies get the middle line.
PACE = {"logistics": (0.05, 0.0, 0.02), "support": (0.04, 0.0, 0.02),
        "it": (0.08, 0.0, 0.04), "cco": (0.05, 0.0, 0.03), "marketing": (0.12, 0.01, 0.06),
        "product": (0.15, 0.01, 0.10), "sales": (0.35, 0.05, 0.12),
        "finance": (0.45, 0.08, 0.15)}
MIDDLE_PACE = (0.15, 0.01, 0.06)
CUSTOMERS = ("ООО «Ромашка»", "Acme Corp", "ИП Сидоров", "Blue Sky Hotels", "Анна К.",
             "John Miller", "Гостиница «Волга»", None, None, None)
SEGMENTS = ("retail", "b2b", "online")
EXTRA_PEOPLE = (("slack:U0EMP01", "Pavel Lebedev", "ru"), ("slack:U0EMP02", "Emma Davis", "en"),
                ("telegram:3001", "Sofia Novikova", "ru"), ("slack:U0EMP03", "Zhang Min", "zh"))
NOTES = ("Called the customer and apologised; courier briefed.",
         "Позвонили клиенту, извинились, сделали скидку на следующий заказ.",
         "Fixed in today's release.", "Исправили, проверили с клиентом.",
         "Passed to the supplier, replacement sent.", "Заменили товар, клиент доволен.")
REASONS = ("This is about payments, not delivery.", "Это вопрос к поддержке, не к нам.",
           "Website issue, please take it.")


@dataclass
class DemoReport:
    """What the demo made."""

    signals: int = 0
    scores: int = 0
    pulse_answers: int = 0
    by_department: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)

    def summary(self) -> str:
        """A few lines for the terminal."""
        departments = ", ".join(f"{slug} {n}" for slug, n in self.by_department.most_common())
        outcomes = ", ".join(f"{name} {n}" for name, n in sorted(self.outcomes.items()))
        return (f"demo: {self.signals} signals, {self.scores} customer scores, "
                f"{self.pulse_answers} internal pulse answers\n"
                f"  by department: {departments}\n  outcomes: {outcomes}")


class _Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def fill_demo(service: VocService, *, signals: int = 300, weeks: int = 12, seed: int = 7,
              append: bool = False) -> DemoReport:
    """Generate `signals` signals and their loops over the last `weeks` weeks."""
    with service.db.read() as session:
        existing = session.exec(select(func.count()).select_from(Signal)).one()
    if existing and not append:
        raise ValueError(f"The database already has {existing} signals; pass --append to add "
                         "demo data anyway.")
    rng = random.Random(seed)
    end = service.clock()
    clock = _Clock(end)
    demo = VocService(service.db, service.company, clock=clock)
    reporters = _reporters(demo)
    heads = {d.slug: (d.heads[0] if d.heads else service.company.admins[0])
             for d in service.company.departments}
    report = DemoReport()
    start = end - timedelta(weeks=weeks)
    moments = sorted(_working_moment(rng, start, end) for _ in range(signals))
    for moment in moments:
        clock.now = moment
        kind, text = rng.choice(SIGNALS)
        score = (rng.randint(0, 6) if kind == "complaint" else rng.randint(8, 10)
                 if kind == "praise" else None) if rng.random() < 0.6 else None
        reporter = rng.choice(reporters)
        captured = demo.capture(reporter, Draft(
            kind, text, customer=rng.choice(CUSTOMERS), score=score,
            anonymous=rng.random() < 0.08))
        report.signals += 1
        outcome = _play_loop(demo, clock, rng, captured.signal.ref, reporter, heads, end)
        report.outcomes[outcome] += 1
        report.by_department[demo.show(reporter, captured.signal.ref).department.slug] += 1
    report.scores = _customer_scores(demo, clock, rng, reporters, start, end)
    report.pulse_answers = _pulse_answers(demo, clock, rng, start, end)
    with service.db.write() as session:
        outbox.skip_pending(session=session, created_before=end,
                            reason="demo history, not delivered")
    return report


def _reporters(demo: VocService) -> list[str]:
    identities = [i for d in demo.company.departments for i in d.members]
    for identity, name, locale in EXTRA_PEOPLE:
        demo.identify(identity, display_name=name, platform_locale=locale)
        identities.append(identity)
    return identities


def _working_moment(rng: random.Random, start: datetime, end: datetime) -> datetime:
    """A random moment, mostly on weekdays in office hours (as reports really arrive)."""
    span = (end - start).total_seconds()
    while True:
        moment = start + timedelta(seconds=rng.uniform(0, span))
        local_hour = (moment.hour + 3) % 24  # roughly Moscow; precision does not matter here
        if (moment.weekday() < 5 and 8 <= local_hour <= 20) or rng.random() < 0.05:
            return moment


def _play_loop(demo: VocService, clock: _Clock, rng: random.Random, ref: str, reporter: str,
               heads: dict[str, str], end: datetime) -> str:
    """Act out what happened next, as far as the time left allows; return the final state."""
    captured_at = clock.now

    def at(hours: float) -> bool:
        clock.now = clock.now + timedelta(hours=hours)
        return clock.now < end

    def head() -> str:
        return heads[demo.show(reporter, ref).department.slug]

    try:
        if rng.random() < 0.08 and at(rng.uniform(0.5, 6)):
            target = rng.choice([s for s in heads if s != demo.show(reporter, ref).department.slug])
            demo.reassign(head(), ref, target, rng.choice(REASONS))
        late_share, neglect_share, unresolved_share = PACE.get(
            demo.show(reporter, ref).department.slug, MIDDLE_PACE)
        if rng.random() < neglect_share:
            return "neglected"  # never acknowledged: shows up overdue in queues and digests
        late = rng.random() < late_share
        if not at(rng.uniform(24, 80) if late else rng.uniform(0.2, 10)):
            return "open"
        demo.acknowledge(head(), ref)
        if not at(rng.uniform(2, 72)) or rng.random() < unresolved_share:
            return "acknowledged"
        demo.resolve(head(), ref, rng.choice(NOTES))
        if rng.random() < 0.05 and at(rng.uniform(1, 24)):
            demo.reopen(reporter, ref, "Клиент снова жалуется / the customer called again")
            if rng.random() < neglect_share * 4 or not at(rng.uniform(0.5, 8)):
                return "reopened"
            demo.acknowledge(head(), ref)
            if not at(rng.uniform(2, 48)):
                return "reopened"
            demo.resolve(head(), ref, rng.choice(NOTES))
        if rng.random() < 0.6 and at(rng.uniform(0.5, 30)):
            demo.rate(reporter, ref, rng.choice((10, 9, 9, 8, 7, 6, 10, 3)))
            return "rated"
        return "resolved"
    except VocError:
        return "open"
    finally:
        clock.now = captured_at


def _customer_scores(demo: VocService, clock: _Clock, rng: random.Random, reporters: list[str],
                     start: datetime, end: datetime) -> int:
    """About 25 customer NPS answers a week, drifting slightly better over time."""
    weeks = max(1, round((end - start).days / 7))
    count = 0
    for _ in range(25 * weeks):
        clock.now = _working_moment(rng, start, end)
        progress = (clock.now - start) / (end - start)
        promoter = 0.45 + 0.15 * progress
        roll = rng.random()
        value = rng.randint(9, 10) if roll < promoter else rng.randint(7, 8) if (
            roll < promoter + 0.25) else rng.randint(0, 6)
        demo.record_score(rng.choice(reporters), value, customer=rng.choice(CUSTOMERS),
                          segment=rng.choice(SEGMENTS))
        count += 1
    return count


def _pulse_answers(demo: VocService, clock: _Clock, rng: random.Random, start: datetime,
                   end: datetime) -> int:
    """Monthly internal NPS pulse rounds in the period, answered by about four in five."""
    questions = asks(demo)
    moments, moment = [], end
    while moment > start:
        moments.append(moment)
        moment -= timedelta(days=30)
    count = 0
    for moment in reversed(moments):
        round_id = pulse_round(moment, "monthly", demo.company.timezone)
        round_start, _ = round_bounds(round_id, demo.company.timezone)
        for ask in questions:
            if rng.random() > 0.8:
                continue
            clock.now = min(end, max(round_start, start) + timedelta(
                hours=rng.uniform(1, 24 * 10)))
            value = rng.choice((10, 9, 9, 8, 8, 7, 6, 5, 9, 10, 3))
            try:
                demo.answer_pulse(ask.destination, f"{round_id}:{ask.supplier}", value)
                count += 1
            except VocError:
                pass  # answered already (rounds can repeat when months are short)
    return count


def demo_digest_and_workbook(service: VocService, path: Path) -> str:
    """The digest preview of the last complete week (as leadership reads it) and a workbook
    of everything, for the demo's closing words."""
    week = Week.last_complete(service.clock(), service.company.timezone)
    message = render_digest(digest_figures(service, week), service.translator(),
                            service.company.timezone)
    write_workbook(service, path)
    return (f"\nDigest preview (leadership, {service.company.locale}):\n\n"
            f"{message.plain_text()}\n\nWorkbook written: {path} "
            "(Summary, Departments, Signals, Events, Scores)\n"
            f"The digest as leadership receives it, its chart and the week's workbook: "
            f"voc digest --week {week} --chart digest.png --workbook digest.xlsx\n"
            "A department head's: voc digest --head SLUG")

"""The questions the terminal chat asks: a report step by step, and what a button needs.

Each answer is checked when it is given, by the core's own rules, and the same question is
asked again with the reason, so nothing typed so far is lost. A button's right is checked
before its first question. Ctrl-C, `/cancel` (or `/quit`) ends a flow at any step; another
command typed mid-flow ends it and runs (see `ConsoleChat.ask`). A yes/no question takes only
yes or no (in any of the bot's languages) and asks again on anything else.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from bot.core.handling.rules import RULES, action_of
from bot.core.presentation.customer_story import story_reply
from bot.core.presentation.messages import Button
from bot.core.presentation.render import STORY, action_done, capture_reply, pulse_thanks
from bot.core.presentation.views import SignalView
from bot.core.service import Draft
from bot.core.shared.domain import Action
from bot.core.shared.errors import VocError
from bot.core.shared.i18n import N_

if TYPE_CHECKING:
    from handlers.console.chat import ConsoleChat

CANCELLED = object()  # a flow's answer when the person cancelled it
YES = ("y", "yes", "д", "да", "是", "是的")
NO = ("n", "no", "н", "нет", "否", "不", "不是")


async def checked(chat: ConsoleChat, field: str, prompt: str) -> Any:
    """Ask until the answer passes capture's check for `field`: its value, or CANCELLED."""
    while True:
        answer = await chat.ask(prompt)
        if answer is None:
            return CANCELLED
        try:
            chat.service.check_answer(field, answer)
            return answer
        except VocError as error:
            chat.refuse(error)


async def report_step_by_step(chat: ConsoleChat) -> None:
    """The capture form, as questions: kind, text, customer, score, department, anonymous."""
    t = chat.t
    answers: list[Any] = []
    for field, prompt in (("kind", t.gettext("Kind (complaint, praise, idea): ")),
                          ("text", t.gettext("What did the customer say? ")),
                          ("customer", t.gettext("Customer (optional): ")),
                          ("score", t.gettext("Customer's score 0-10 (optional): "))):
        answers.append(await checked(chat, field, prompt))
        if answers[-1] is CANCELLED:
            return
    kind, text, customer, score = answers
    suggested = await asyncio.to_thread(chat.service.suggest, text)
    department = await pick_department(chat, suggested.slug)
    anonymous = None if department is CANCELLED else await yes_or_no(
        chat, t.gettext("Anonymous? (y/N): "))
    if anonymous is None:
        return
    draft = Draft(kind, text, customer=customer, score=score or None, department=department,
                  anonymous=anonymous, files=chat.take_files())
    result = await asyncio.to_thread(chat.service.capture, chat.identity, draft)
    chat.show(capture_reply(result.signal, t, duplicate=result.duplicate,
                            refused=result.refused))


async def yes_or_no(chat: ConsoleChat, prompt: str) -> bool | None:
    """A (y/N) question, asked until it is answered: True, False (Enter means no), or None
    when the person left it."""
    while True:
        answer = await chat.ask(prompt)
        if answer is None:
            return None
        word = answer.strip().lower()
        if word in YES:
            return True
        if not word or word in NO:
            return False
        chat.write("⚠ " + chat.t.gettext("Please answer y (yes) or n (no)."))


async def pick_department(chat: ConsoleChat, suggested: str | None) -> Any:
    """A department from a numbered list: its slug; None to keep the suggestion (so its
    reason stays "matched: ..."); CANCELLED. An unknown one is asked again."""
    departments = await asyncio.to_thread(chat.service.departments)
    for number, department in enumerate(departments, 1):
        mark = " *" if department.slug == suggested else ""
        name = chat.t.department(department.slug, department.name)
        chat.write(f"  {number}. {name} ({department.slug}){mark}")
    prompt = (chat.t.gettext("Department (number or slug, Enter = *): ") if suggested
              else chat.t.gettext("Department (number or slug): "))
    while True:
        typed = await chat.ask(prompt)
        if typed is None:
            return CANCELLED
        answer = typed.strip()
        if not answer and suggested:
            return None
        if answer.isdecimal() and 1 <= int(answer) <= len(departments):
            return departments[int(answer) - 1].slug
        try:
            return (await asyncio.to_thread(chat.service.find_department, answer)).slug
        except VocError as error:
            chat.refuse(error)


async def press(chat: ConsoleChat, button: Button) -> None:
    """A numbered button: a case's action, or a pulse answer."""
    if button.action == "pulse":
        await answer_pulse(chat, button)
        return
    if button.action == STORY:  # "This customer's story" on a card
        story = await asyncio.to_thread(chat.service.customer_story, chat.identity,
                                        f"#{button.value or ''}")
        chat.show(story_reply(story, chat.t))
        return
    action = action_of(button.action)
    if action is None:
        chat.write("⚠ " + chat.t.gettext("This button is no longer supported."))
        return
    signal = await act(chat, action, button)
    if signal is not None:
        chat.show(action_done(signal, action, chat.t))


async def act(chat: ConsoleChat, action: str, button: Button) -> SignalView | None:
    """Check the right first, then ask what the action needs, asking again what the core
    refuses (an empty reason, an unknown department, a score of 11) until done or cancelled."""
    rule, me, ref = RULES[action], chat.identity, button.ref
    await asyncio.to_thread(chat.service.check, me, ref, action)  # before any question
    answers = {"department": "", "note": "", "score": button.value or "", "code": ""}
    codes = (await asyncio.to_thread(chat.service.resolution_codes, chat.t.locale)
             if rule.asks_code else [])
    wanted = [name for name, needed in (("department", rule.needs_department),
                                        ("code", bool(codes)),
                                        ("note", rule.note_prompt is not None),
                                        ("score", action == Action.RATE)) if needed]
    while True:
        for name in wanted:
            answer = await _answer(chat, name, rule.note_prompt, codes)
            if answer is CANCELLED:
                return None
            answers[name] = answer
        try:
            return await asyncio.to_thread(
                chat.service.perform, me, action, ref, text=answers["note"],
                department=answers["department"], value=answers["code"] or answers["score"])
        except VocError as error:
            if error.field not in answers:
                raise
            chat.refuse(error)
            wanted = [error.field]  # ask again only what was refused; keep the rest


async def _answer(chat: ConsoleChat, name: str, note_prompt: str | None,
                  codes: list[tuple[str, str]]) -> Any:
    if name == "department":
        return await pick_department(chat, None)
    if name == "code":  # numbered choices; the core takes the number, the code or its label
        for number, (_code, label) in enumerate(codes, 1):
            chat.write(f"  {number}. {label}")
        while True:  # asked again until it is one of them
            answer = await chat.ask(chat.t.gettext("What caused it? (number): "))
            if answer is None:
                return CANCELLED
            try:
                chat.service.check_resolution_code(answer)
                return answer
            except VocError as error:
                chat.refuse(error)
    prompt = note_prompt if name == "note" else N_("Your rating 0-10: ")
    answer = await chat.ask(chat.t.gettext(prompt or ""))
    return CANCELLED if answer is None else answer


async def answer_pulse(chat: ConsoleChat, button: Button) -> None:
    """An internal NPS pulse answer (the 0-10 row asks for the value), or its comment."""
    me, ref = chat.identity, button.ref
    if button.value == "comment":
        text = await chat.ask(chat.t.gettext("Your comment: "))
        value: str | None = "comment"
    else:
        text, value = None, await chat.ask(chat.t.gettext("Your answer 0-10: "))
    if value is None or (button.value == "comment" and text is None):
        return
    pulse = await asyncio.to_thread(chat.service.answer_pulse, me, ref, value, text)
    chat.show(pulse_thanks(pulse, chat.t))

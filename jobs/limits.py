"""Rate limits as token buckets, declared by the ports and kept by the dispatcher.

A port says what its platform counts in its `rate_limit`: a plain `RateLimit` (so many a
destination, so many overall; the terminal, test doubles), or a `PortLimits` whose `draws`
names the buckets one delivery draws on (a channel's, a workspace's, chat.update's). Each
delivery takes one token from each of its buckets: a burst may go at once, then the bucket
refills at the platform's steady rate.

Two classes of delivery share the buckets. What people are waiting for (cards, edits, replies,
confirmations) takes any token; bulk (surveys, digests, reminders) leaves half a bucket's burst
in it (`Rate.reserve`) and never takes a token an interactive delivery is waiting for, so a
survey to the whole company can drain neither a workspace's budget nor a person's chat.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from bot.core.shared.delivery_port import RateLimit
from storage import outbox
from storage.models import Outbox


@dataclass(frozen=True)
class Rate:
    """A token bucket: `burst` messages may go at once, then `per_second` on average."""

    burst: int
    per_second: float

    @property
    def reserve(self) -> int:
        """Tokens bulk deliveries leave for interactive ones."""
        return self.burst // 2


# What a bucket holds back (unclaimed) while it is empty: the rows of the destinations that
# drew on it, all the platform's rows, the platform's rows but its edits (a bucket of posts
# alone), or none (the row waits in memory, or is postponed, when its turn comes).
Holds = Literal["destination", "platform", "posts", "nothing"]


@dataclass(frozen=True)
class Limit:
    """One bucket a delivery draws on; `key` names what the platform counts (a channel, a
    chat, a whole workspace), so deliveries that share a key share the bucket."""

    key: str
    rate: Rate
    holds: Holds = "destination"


@dataclass(frozen=True)
class PortLimits(RateLimit):
    """A port's limits told bucket by bucket. `per_destination` and `overall` (the core's
    summary of them) give the default buckets; a platform that counts more finely (posts and
    edits apart, groups and people apart) overrides `draws`."""

    def draws(self, platform: str, destination: str, operation: str) -> Sequence[Limit]:
        """The buckets one delivery of `operation` to `destination` draws on."""
        count, seconds = self.per_destination
        found = [Limit(destination, Rate(count, count / seconds))]
        if self.overall:
            count, seconds = self.overall
            found.append(Limit(f"{platform}:*", Rate(count, count / seconds), "platform"))
        return found


Draws = Callable[[str, str], Sequence[Limit]]  # (destination, operation) -> its buckets


def draws_of(rate_limit: RateLimit, platform: str) -> Draws:
    """(destination, operation) -> the buckets, for a port's `rate_limit`."""
    limits = rate_limit if isinstance(rate_limit, PortLimits) else PortLimits(
        rate_limit.per_destination, rate_limit.overall)
    return lambda destination, operation: limits.draws(platform, destination, operation)


@dataclass
class Bucket:
    """A token bucket's state: `tokens` at time `at`, the destinations that drew on it, and
    how many interactive deliveries are waiting for it (bulk ones then keep off)."""

    limit: Limit
    platform: str
    tokens: float
    at: float
    destinations: set[str] = field(default_factory=set)
    interactive_waiting: int = 0

    def _refill(self, now: float) -> None:
        rate = self.limit.rate
        self.tokens = min(float(rate.burst), self.tokens + (now - self.at) * rate.per_second)
        self.at = max(self.at, now)

    def wait(self, now: float, *, bulk: bool = False) -> float:
        """Seconds until a token is free for this class of delivery (0: now). A bulk one
        waiting behind interactive ones is told to look again after one token's time."""
        self._refill(now)
        rate = self.limit.rate
        if bulk and self.interactive_waiting:
            return max(1e-3, (1.0 + rate.reserve - self.tokens) / rate.per_second,
                       1.0 / rate.per_second)
        missing = 1.0 + (rate.reserve if bulk else 0) - self.tokens
        return 0.0 if missing <= 1e-9 else missing / rate.per_second

    def tokens_at(self, now: float) -> float:
        self._refill(now)
        return self.tokens

    def take(self, now: float, destination: str) -> None:
        self._refill(now)
        self.tokens -= 1.0
        self.destinations.add(destination)

    def full(self, now: float) -> bool:
        self._refill(now)
        return self.tokens >= self.limit.rate.burst


@dataclass
class Blocked:
    """What a claim leaves out because its buckets have no token for it (one set for each
    class of row), and when the first of them refills."""

    interactive: outbox.Skip = field(default_factory=outbox.Skip)
    bulk: outbox.Skip = field(default_factory=outbox.Skip)
    frees_in: float | None = None  # a destination's bucket
    shared_frees_in: float | None = None  # a bucket of a whole platform or workspace

    def note(self, wait: float, *, shared: bool) -> None:
        if shared:
            self.shared_frees_in = min(wait, self.shared_frees_in or wait)
        else:
            self.frees_in = min(wait, self.frees_in or wait)


@dataclass
class Admission:
    """Which due rows a claim takes: no more of a bucket's than it can serve within `within`
    seconds (the rows claimed before and not yet sent count), bulk ones leaving the reserve.
    The rest stay queued, unclaimed: a claim of a whole backlog made all but the first few
    rows wait in memory and go back to the queue, a write for each claim and hand-back.
    Called in the claim's worker thread: it reads only its own copy of the buckets."""

    tokens: dict[str, tuple[float, int]]  # key -> (tokens now, rows promised to it)
    draws: Mapping[str, Draws]  # platform -> its port's buckets
    within: float
    taken: Counter[str] = field(default_factory=Counter)
    refused: int = 0

    def __call__(self, row: Outbox) -> bool:
        limits = self.draws[row.platform](row.destination, row.operation)
        for limit in limits:
            rate = limit.rate
            tokens, promised = self.tokens.get(limit.key, (float(rate.burst), 0))
            room = (tokens - (rate.reserve if row.bulk else 0) + rate.per_second * self.within
                    - promised - self.taken[limit.key])
            if room < 1.0 - 1e-9:
                self.refused += 1
                return False
        self.taken.update(limit.key for limit in limits)
        return True


class Buckets:
    """Every bucket drawn on lately, by key; a full one is forgotten (one per person DMed)."""

    def __init__(self, monotonic: Callable[[], float]) -> None:
        self.monotonic = monotonic
        self._buckets: dict[str, Bucket] = {}
        self._promised: dict[str, set[int]] = defaultdict(set)  # key -> rows claimed for it

    def of(self, limits: Iterable[Limit], platform: str) -> list[Bucket]:
        found = []
        for limit in limits:
            bucket = self._buckets.get(limit.key)
            if bucket is None or bucket.limit != limit:
                bucket = self._buckets[limit.key] = Bucket(
                    limit, platform, float(limit.rate.burst), self.monotonic())
            found.append(bucket)
        return found

    def admission(self, draws: Mapping[str, Draws], within: float) -> Admission:
        """What the next claim may take, from the buckets as they are now."""
        now = self.monotonic()
        return Admission({key: (bucket.tokens_at(now), len(self._promised.get(key, ())))
                          for key, bucket in self._buckets.items()}, draws, within)

    def promise(self, row: Outbox, limits: Iterable[Limit]) -> None:
        """A claimed row will draw on these buckets: count it until it does (`settle`)."""
        assert row.id is not None
        for bucket in self.of(limits, row.platform):
            self._promised[bucket.limit.key].add(row.id)

    def settle(self, row_id: int | None) -> None:
        """The row took its tokens, or left the queue without them."""
        for key in [key for key, ids in self._promised.items() if row_id in ids]:
            self._promised[key].discard(row_id or 0)
            if not self._promised[key]:
                del self._promised[key]

    def blocked(self, in_flight: Collection[str] = ()) -> Blocked:
        """Destinations and platforms whose buckets have no token now, for either class. Their
        rows stay queued, unclaimed, until it frees: claiming them only to hand them back made
        a backlog (Telegram allows a group 20 messages a minute) cost CPU and write
        transactions in proportion to its size, all the time it waited. A bucket drawn on only
        by destinations `in_flight` (their queue's end wakes the dispatcher) does not count in
        `frees_in`: waking at each refill of a busy channel's bucket cost a read each time."""
        now = self.monotonic()
        blocked = Blocked()
        for key, bucket in list(self._buckets.items()):
            holds = bucket.limit.holds
            for bulk, skip in ((False, blocked.interactive), (True, blocked.bulk)):
                wait = bucket.wait(now, bulk=bulk)
                if wait <= 0 or holds == "nothing":
                    continue
                if holds == "platform":
                    skip.platforms.append(bucket.platform)
                elif holds == "posts":
                    skip.posts_of.append(bucket.platform)
                else:  # the key too: a group's topics that have not drawn on it yet
                    skip.exact.extend(bucket.destinations)
                    if key not in bucket.destinations:
                        skip.groups.append(key)
                    if bucket.destinations and bucket.destinations.issubset(in_flight):
                        continue
                if holds != "destination" and key in self._promised:
                    continue  # its next tokens are the queued rows': their ends wake us
                blocked.note(wait, shared=holds != "destination")
            if not (bucket.interactive_waiting or key in self._promised) and bucket.full(now):
                del self._buckets[key]
        return blocked

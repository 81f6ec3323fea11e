"""The per-pool charts of the admin: the data, aggregated in the database, and the
geometry of bars drawn as inline SVG (no script, nothing fetched); beside them, the
pool's numbers that take no new recipients now."""

from dataclasses import dataclass
from datetime import date, timedelta
from typing import ClassVar

from django.db.models import Case, Count, Q, Value, When
from django.db.models.functions import TruncDate
from django.utils import timezone

from messaging.models import Message
from optout.models import OptOutEvent
from optout.services import ACCOUNT_WIDE
from pools.models import Pool, PoolNumber
from virtual_numbers.capacity import utc_today
from virtual_numbers.models import Number

CHART_DAYS = 30
# Django admin's own palette, in the order a message moves through its statuses.
STATUS_COLOURS = {
    Message.Status.SCHEDULED: "#cccccc",
    Message.Status.QUEUED: "#999999",
    Message.Status.SENT: "#79aec8",
    Message.Status.DELIVERED: "#70bf2b",
    Message.Status.UNDELIVERED: "#efb80b",
    Message.Status.FAILED: "#ba2121",
    Message.Status.CANCELED: "#666666",
}
POOL_OPTOUTS = "a number of this pool"
ACCOUNT_WIDE_OPTOUTS = "every number of the account (STOPALL)"
OPTOUT_COLOURS = {POOL_OPTOUTS: "#417690", ACCOUNT_WIDE_OPTOUTS: "#efb80b"}


@dataclass(frozen=True)
class LoadBar:
    label: str
    value: int
    y: int
    width: int


@dataclass(frozen=True)
class LoadChart:
    """One horizontal bar per number: its live sticky mappings."""

    bars: list[LoadBar]
    row: ClassVar[int] = 24
    label_width: ClassVar[int] = 130
    bar_max: ClassVar[int] = 360
    width: ClassVar[int] = 540

    @property
    def height(self) -> int:
        return len(self.bars) * self.row

    @property
    def total(self) -> int:
        return sum(bar.value for bar in self.bars)

    @property
    def fewest(self) -> int:
        return min(bar.value for bar in self.bars)

    @property
    def most(self) -> int:
        return max(bar.value for bar in self.bars)


def load_chart(values: list[tuple[str, int]]) -> LoadChart:
    top = max((value for _, value in values), default=0) or 1
    return LoadChart(
        [
            LoadBar(label, value, index * LoadChart.row, round(value * LoadChart.bar_max / top))
            for index, (label, value) in enumerate(values)
        ]
    )


@dataclass(frozen=True)
class Segment:
    series: str
    value: int
    y: int
    height: int
    colour: str


@dataclass(frozen=True)
class DayColumn:
    day: date
    x: int
    counts: list[int]  # per series, in the chart's series order
    top: int  # y of the column's top
    segments: list[Segment]
    labelled: bool  # the day is written under every seventh column, counted from today

    @property
    def total(self) -> int:
        return sum(self.counts)


@dataclass(frozen=True)
class StackedChart:
    """One column per day, stacked by series from the bottom up."""

    series: dict[str, str]  # name → colour
    columns: list[DayColumn]
    plot_height: ClassVar[int] = 160
    step: ClassVar[int] = 22
    bar_width: ClassVar[int] = 16
    bar_middle: ClassVar[int] = bar_width // 2
    margin: ClassVar[int] = 16  # above the plot for the totals, below it for the days

    @property
    def width(self) -> int:
        return len(self.columns) * self.step + self.margin  # room for the last day's label

    @property
    def height(self) -> int:
        return self.plot_height + 2 * self.margin

    @property
    def series_totals(self) -> list[int]:
        return [sum(column) for column in zip(*(c.counts for c in self.columns), strict=True)]

    @property
    def total(self) -> int:
        return sum(self.series_totals)


def stacked_chart(
    counts: dict[tuple[date, str], int], series: dict[str, str], days: list[date]
) -> StackedChart:
    per_day = [[counts.get((day, name), 0) for name in series] for day in days]
    top = max(map(sum, per_day), default=0) or 1

    def y(value: int) -> int:
        return StackedChart.plot_height - round(value * StackedChart.plot_height / top)

    columns = []
    for index, (day, values) in enumerate(zip(days, per_day, strict=True)):
        segments, below = [], 0
        for (name, colour), value in zip(series.items(), values, strict=True):
            if value:
                segments.append(
                    Segment(name, value, y(below + value), y(below) - y(below + value), colour)
                )
            below += value
        labelled = (len(days) - 1 - index) % 7 == 0
        columns.append(
            DayColumn(day, index * StackedChart.step, values, y(below), segments, labelled)
        )
    return StackedChart(series, columns)


def chart_days() -> list[date]:
    today = timezone.localdate()
    return [today - timedelta(days=n) for n in reversed(range(CHART_DAYS))]


def messages_per_day(pool: Pool, since: date) -> dict[tuple[date, str], int]:
    rows = (
        Message.objects.filter(pool=pool, created_at__date__gte=since)
        .annotate(day=TruncDate("created_at"))
        .values("day", "status")
        .annotate(count=Count("pk"))
        .order_by()
    )
    return {(row["day"], row["status"]): row["count"] for row in rows}


def optouts_per_day(pool: Pool, since: date) -> dict[tuple[date, str], int]:
    """Opt-outs added that stop the pool: to one of its numbers, or to every number."""
    pool_numbers = PoolNumber.objects.filter(pool=pool).values("number__number")
    rows = (
        OptOutEvent.objects.filter(
            Q(number__in=pool_numbers) | Q(number=ACCOUNT_WIDE),
            account=pool.account_id,
            change=OptOutEvent.Change.ADDED,
            created_at__date__gte=since,
        )
        .annotate(
            day=TruncDate("created_at"),
            scope=Case(
                When(number=ACCOUNT_WIDE, then=Value(ACCOUNT_WIDE_OPTOUTS)),
                default=Value(POOL_OPTOUTS),
            ),
        )
        .values("day", "scope")
        .annotate(count=Count("pk"))
        .order_by()
    )
    return {(row["day"], row["scope"]): row["count"] for row in rows}


@dataclass(frozen=True)
class Capacity:
    """The pool's numbers that selection leaves out of new assignments (SPEC §14): those
    at their daily cap of new recipients on `day` (UTC), and the cordoned ones."""

    day: date
    at_cap: list[Number]
    cordoned: list[Number]


def pool_capacity(pool: Pool) -> Capacity:
    day = utc_today()
    numbers = Number.objects.filter(pool_number__pool=pool).order_by("number")
    return Capacity(day, list(numbers.at_daily_cap(day)), list(numbers.cordoned()))

"""The benchmark's lines and SPEC §15's targets, from the figures of the runs.

Every send run is set against the bare run just before it on the same server: the
machine's drift (other tenants, CPU boost, a warm cache) moves both, their ratio much
less. "Slower" compares those ratios too. With several rounds of a scenario, its
targets take the median of its rounds' ratios.
"""

import statistics
from dataclasses import dataclass

from pools.benchmark.plan import BROKER, EMBEDDED, MIXES, Plan, Scenario
from pools.benchmark.statements import PoolStatements
from pools.benchmark.wrk import Result


@dataclass(frozen=True)
class Run:
    scenario: Scenario
    bare: Result
    send: Result
    table: int  # rows of the mapping table (every pool's) when the send run started
    statements: PoolStatements | None = None

    @property
    def ratio(self) -> float:
        return self.send.rps / self.bare.rps if self.bare.rps else 0.0

    @property
    def p99_ratio(self) -> float:
        return self.send.p99_ms / self.bare.p99_ms if self.bare.p99_ms else float("inf")


@dataclass(frozen=True)
class Rounds:
    """The runs of one scenario, by the median of their ratios: each run is one sample
    of a machine that drifts, and one stalled run must not decide a target."""

    runs: tuple[Run, ...]

    @property
    def ratio(self) -> float:
        return statistics.median(run.ratio for run in self.runs)

    @property
    def p99_ratio(self) -> float:
        return statistics.median(run.p99_ratio for run in self.runs)


@dataclass(frozen=True)
class Target:
    text: str
    value: str = "not run"
    passed: bool | None = None  # None: its runs were not part of this benchmark

    def line(self) -> str:
        verdict = {True: "PASS", False: "FAIL", None: "----"}[self.passed]
        return f"{verdict}  {self.text:<66} {self.value}"


def figures(result: Result) -> str:
    line = (
        f"{result.rps:>7,.0f} req/s  p50 {result.p50_ms:6.1f} ms  p99 {result.p99_ms:6.1f} ms  "
        f"non-2xx {result.non_2xx}"
    )
    if result.socket_errors:
        line += f"  socket errors {result.socket_errors}"
    return line


def bare_line(result: Result) -> str:
    return f"  {'bare':<56}{figures(result)}"


def send_line(run: Run) -> str:
    scenario = run.scenario
    label = (
        f"send {MIXES[scenario.mix].label:<11}  pool {scenario.pool_size:>6,}  "
        f"known {scenario.known:>9,}  table {run.table:>9,}"
    )
    line = (
        f"  {label:<56}{figures(run.send)}  send/bare {run.ratio:6.1%}  p99 {run.p99_ratio:5.1f}x"
    )
    if run.statements:
        sticky, new = run.statements.sticky_hit, run.statements.new_recipient
        line += f"  statements {len(sticky.request)} sticky / {len(new.request)} new"
    return line


def error_line(result: Result) -> str | None:
    return f"      first non-2xx: {result.first_error}" if result.first_error else None


def statements_line(size: int, known: int, measured: PoolStatements) -> str:
    sticky, new = measured.sticky_hit, measured.new_recipient
    return (
        f"  pool {size:>6,} numbers, {known:>9,} known: sticky hit {len(sticky.request)} "
        f"(+{len(sticky.dispatch)} with the embedded dispatch), "
        f"new recipient {len(new.request)} (+{len(new.dispatch)})"
    )


def _find(runs: list[Run], mode: str, mix: str, size: int, known: int) -> Rounds | None:
    wanted = Scenario(mode, mix, size, known)
    found = tuple(run for run in runs if run.scenario == wanted)
    return Rounds(found) if found else None


def _at_least(text: str, value: float | None, bound: float, shown: str) -> Target:
    if value is None:
        return Target(text)
    return Target(text, shown.format(value), value >= bound)


def _at_most(text: str, value: float | None, bound: float, shown: str) -> Target:
    if value is None:
        return Target(text)
    return Target(text, shown.format(value), value <= bound)


def targets(plan: Plan, runs: list[Run], measured: list[PoolStatements]) -> list[Target]:
    return [
        *_broker_targets(plan, runs),
        _embedded_target(plan, runs),
        _pool_size_target(plan, runs),
        _table_target(plan, runs),
        *_statement_targets(measured),
    ]


def _broker_targets(plan: Plan, runs: list[Run]) -> list[Target]:
    small = plan.tables[0]
    mixed = _find(runs, BROKER, "mix", plan.middle, small)
    new = _find(runs, BROKER, "new", plan.middle, small)
    return [
        _at_least(
            "with a broker, 90/10 mix: send ≥ 25% of bare (requests/s)",
            mixed and mixed.ratio,
            0.25,
            "{:.1%}",
        ),
        _at_least(
            "with a broker, 100% new ≥ 70% of the 90/10 mix's rate",
            mixed and new and mixed.ratio and new.ratio / mixed.ratio,
            0.70,
            "{:.0%}",
        ),
        _at_most(
            "with a broker, 90/10 mix: p99 ≤ 6x bare p99",
            mixed and mixed.p99_ratio,
            6,
            "{:.1f}x",
        ),
    ]


def _embedded_target(plan: Plan, runs: list[Run]) -> Target:
    mixed = _find(runs, EMBEDDED, "mix", plan.middle, plan.tables[0])
    return _at_least(
        "embedded default, 90/10 mix: send ≥ 10% of bare", mixed and mixed.ratio, 0.10, "{:.1%}"
    )


def _slower(faster: Rounds | None, slower: Rounds | None) -> float | None:
    if faster is None or slower is None or not slower.ratio:
        return None
    return faster.ratio / slower.ratio


def _pool_size_target(plan: Plan, runs: list[Run]) -> Target:
    smallest, largest = plan.sizes[0], plan.sizes[-1]
    text = f"100% new at {largest:,} numbers ≤ 1.5x slower than at {smallest:,}"
    if smallest == largest:
        return Target(text)
    table = plan.tables[0]
    return _at_most(
        text,
        _slower(
            _find(runs, plan.main, "new", smallest, table),
            _find(runs, plan.main, "new", largest, table),
        ),
        1.5,
        "{:.2f}x slower",
    )


# "Flat": within what two runs of the same scenario differ by on a shared machine.
FLAT = 1.25


def _table_target(plan: Plan, runs: list[Run]) -> Target:
    small, large = plan.tables[0], plan.tables[-1]
    text = f"90/10 mix at {large:,} mappings flat vs {small:,} (≤ {FLAT}x slower)"
    if small == large:
        return Target(text)
    return _at_most(
        text,
        _slower(
            _find(runs, plan.main, "mix", plan.middle, small),
            _find(runs, plan.main, "mix", plan.middle, large),
        ),
        FLAT,
        "{:.2f}x slower",
    )


def _statement_targets(measured: list[PoolStatements]) -> list[Target]:
    if not measured:
        return [Target("statements: sticky hit ≤ 8"), Target("statements: new recipient ≤ 11")]
    sticky = max(len(m.sticky_hit.request) for m in measured)
    new = max(len(m.new_recipient.request) for m in measured)
    every = f"the most of {len(measured)} pool(s) and table size(s)"
    return [
        Target(f"statements: sticky hit ≤ 8 ({every})", str(sticky), sticky <= 8),
        Target(f"statements: new recipient ≤ 11 ({every})", str(new), new <= 11),
    ]

"""Which runs the benchmark makes, and in which order.

Runs that are compared share a server: the pool sizes and the mapping table are
compared in the main mode (with a broker when there is one), the modes on the middle
pool size. The mapping table only grows, so everything measured on the small table
runs before the middle pool's table is grown.
"""

from dataclasses import dataclass

BROKER, EMBEDDED = "broker", "embedded"
MODES = (BROKER, EMBEDDED)


@dataclass(frozen=True)
class Mix:
    label: str
    known: float  # the share of sends to recipients the pool has a mapping for


# In the order they run on a pool: the 90/10 mix first, before the other runs add
# mappings to the table it is measured on.
MIXES = {
    "mix": Mix("90/10 mix", 0.9),
    "sticky": Mix("sticky hits", 1.0),
    "new": Mix("100% new", 0.0),
}


@dataclass(frozen=True)
class Scenario:
    mode: str
    mix: str
    pool_size: int
    known: int  # the pool's seeded mappings when it runs


@dataclass(frozen=True)
class Phase:
    """Runs on one server; the middle pool has `known` mappings seeded before they start."""

    mode: str
    known: int
    scenarios: tuple[Scenario, ...]


@dataclass(frozen=True)
class Plan:
    modes: tuple[str, ...]  # the main one first
    mixes: tuple[str, ...]
    sizes: tuple[int, ...]  # ascending
    tables: tuple[int, ...]  # ascending

    @classmethod
    def of(cls, *, modes, mixes, sizes, tables) -> "Plan":
        return cls(
            modes=tuple(mode for mode in MODES if mode in modes),
            mixes=tuple(mix for mix in MIXES if mix in mixes),
            sizes=tuple(sorted(set(sizes))),
            tables=tuple(sorted(set(tables))),
        )

    @property
    def main(self) -> str:
        return self.modes[0]

    @property
    def middle(self) -> int:
        return self.sizes[len(self.sizes) // 2]

    def phases(self) -> list[Phase]:
        small, *larger = self.tables
        phases = [Phase(self.main, small, (*self._middle(self.main, small), *self._sizes()))]
        phases += [Phase(mode, small, self._middle(mode, small)) for mode in self.modes[1:]]
        if "mix" in self.mixes:
            phases += [
                Phase(self.main, table, (Scenario(self.main, "mix", self.middle, table),))
                for table in larger
            ]
        return phases

    def _middle(self, mode: str, known: int) -> tuple[Scenario, ...]:
        return tuple(Scenario(mode, mix, self.middle, known) for mix in self.mixes)

    def _sizes(self) -> tuple[Scenario, ...]:
        """The other pool sizes: what the pool's size changes, new assignments."""
        return tuple(
            Scenario(self.main, mix, size, self.tables[0])
            for size in self.sizes
            if size != self.middle
            for mix in self.mixes
            if mix != "sticky"
        )

"""Which destinations accept an alphanumeric sender ID (data/alphanumeric_unsupported.csv)."""

import csv
import functools
from pathlib import Path

DATA_FILE = Path(__file__).parent / "data" / "alphanumeric_unsupported.csv"


@functools.cache
def _unsupported() -> frozenset[str]:
    with DATA_FILE.open(newline="") as f:
        return frozenset(row["country"] for row in csv.DictReader(f))


def accepts_alphanumeric(country: str) -> bool:
    return country not in _unsupported()

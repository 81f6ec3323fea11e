"""North American area codes: location and overlay complex, from NANPA's report.

The data ships with the project (see data/README.md for where it comes from)
and is read once per process.
"""

import csv
import functools
from dataclasses import dataclass
from pathlib import Path

DATA_FILE = Path(__file__).parent / "data" / "nanp_area_codes.csv"


@dataclass(frozen=True)
class AreaCode:
    npa: str
    location: str
    overlay: frozenset[str]


@functools.cache
def _area_codes() -> dict[str, AreaCode]:
    with DATA_FILE.open(newline="") as f:
        return {
            row["npa"]: AreaCode(
                npa=row["npa"],
                location=row["location"],
                overlay=frozenset(filter(None, row["overlay_complex"].split("/"))) | {row["npa"]},
            )
            for row in csv.DictReader(f)
        }


def area_code(npa: str) -> AreaCode | None:
    """The geographic area code `npa`, or None for toll-free and unknown codes."""
    return _area_codes().get(npa)

"""Public holidays per country (and optional subdivision), from the ``holidays`` package."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1)
def _lib() -> Any:
    # Imported when a calendar is first used (4 MiB resident): most set-ups have none.
    import holidays

    return holidays


@lru_cache(maxsize=512)
def _year(country: str, subdiv: str | None, year: int) -> dict[date, str]:
    cal = _lib().country_holidays(country, subdiv=subdiv, years=year, language="en_US")
    return {d: str(name) for d, name in cal.items()}


@dataclass(frozen=True, slots=True)
class HolidayCalendar:
    """The public holidays of ``country`` (ISO 3166 alpha-2, e.g. ``FR``), optionally ``subdiv``."""

    country: str
    subdiv: str | None = None

    def __post_init__(self) -> None:
        check_holiday_country(self.country, self.subdiv)

    def name(self, d: date) -> str | None:
        """The holiday's name on ``d``, or None on an ordinary day."""
        return _year(self.country, self.subdiv, d.year).get(d)

    def is_holiday(self, d: date) -> bool:
        return self.name(d) is not None

    def between(self, a: date, b: date) -> dict[date, str]:
        """Holidays from ``a`` to ``b`` inclusive."""
        out: dict[date, str] = {}
        for y in range(a.year, b.year + 1):
            out.update({d: n for d, n in _year(self.country, self.subdiv, y).items() if a <= d <= b})
        return dict(sorted(out.items()))


def check_holiday_country(country: str, subdiv: str | None) -> None:
    """ValueError naming the country or subdivision the ``holidays`` package does not know."""
    supported = _lib().list_supported_countries()
    if country not in supported:
        raise ValueError(
            f"unknown holiday country {country!r}: expected an ISO 3166 alpha-2 code supported by the"
            " 'holidays' package, such as 'FR' or 'US'"
        )
    if subdiv is not None and subdiv not in supported[country]:
        try:
            _year(country, subdiv, 2000)
        except NotImplementedError:
            raise ValueError(
                f"unknown subdivision {subdiv!r} of holiday country {country!r}:"
                f" expected one of {', '.join(supported[country])}"
            ) from None

"""``time_intervals:`` / ``mute_time_intervals:`` schema. Every field is checked by the same
parsers the engine evaluates with, so a spec that loads is a spec the engine can run."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field, field_validator, model_validator

from tocsin.config.types import StrictModel
from tocsin.engine.timeintervals import (
    TimeIntervalError,
    load_location,
    parse_day_of_month_range,
    parse_month_range,
    parse_times,
    parse_weekday_range,
    parse_year_range,
)


def _as_text(value: Any) -> Any:
    # YAML reads ``- 1`` and ``- 2024`` as integers; the range syntax is textual.
    if isinstance(value, list):
        return [str(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in value]
    return value


TextList = Annotated[list[str], BeforeValidator(_as_text)]


class TimeRangeSpec(StrictModel):
    start_time: str
    end_time: str

    @model_validator(mode="after")
    def _check(self) -> TimeRangeSpec:
        parse_times(self.start_time, self.end_time)
        return self


class TimeIntervalSpec(StrictModel):
    times: list[TimeRangeSpec] | None = None
    weekdays: TextList | None = None
    days_of_month: TextList | None = None
    months: TextList | None = None
    years: TextList | None = None
    location: str | None = None

    @field_validator("weekdays")
    @classmethod
    def _weekdays(cls, v: list[str] | None) -> list[str] | None:
        for item in v or ():
            parse_weekday_range(item)
        return v

    @field_validator("days_of_month")
    @classmethod
    def _days(cls, v: list[str] | None) -> list[str] | None:
        for item in v or ():
            parse_day_of_month_range(item)
        return v

    @field_validator("months")
    @classmethod
    def _months(cls, v: list[str] | None) -> list[str] | None:
        for item in v or ():
            parse_month_range(item)
        return v

    @field_validator("years")
    @classmethod
    def _years(cls, v: list[str] | None) -> list[str] | None:
        for item in v or ():
            parse_year_range(item)
        return v

    @field_validator("location")
    @classmethod
    def _location(cls, v: str | None) -> str | None:
        load_location(v)
        return v


class NamedTimeInterval(StrictModel):
    name: str
    time_intervals: list[TimeIntervalSpec] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not v:
            raise ValueError("missing name in time interval")
        return v


__all__ = ["NamedTimeInterval", "TimeIntervalError", "TimeIntervalSpec", "TimeRangeSpec"]

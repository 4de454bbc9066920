"""The top-level ``Config``: what an ``alertmanager.yml`` (or tocsin's superset of it) holds."""

from __future__ import annotations

from pydantic import Field, PrivateAttr, model_validator

from tocsin.config.global_config import GlobalConfig
from tocsin.config.receivers import ReceiverConfig
from tocsin.config.routes import InhibitRuleConfig, RouteConfig
from tocsin.config.serialize import config_to_yaml
from tocsin.config.timeintervals import NamedTimeInterval, TimeIntervalSpec
from tocsin.config.types import StrictModel


class Config(StrictModel):
    global_: GlobalConfig = Field(default_factory=GlobalConfig, alias="global")
    route: RouteConfig
    receivers: list[ReceiverConfig] = Field(default_factory=list)
    inhibit_rules: list[InhibitRuleConfig] = Field(default_factory=list)
    templates: list[str] = Field(default_factory=list)
    # Both YAML lists are kept as written (so the config prints back the same way) and merged
    # into the ``time_intervals`` mapping the engine uses.
    time_interval_list: list[NamedTimeInterval] = Field(default_factory=list, alias="time_intervals")
    mute_time_interval_list: list[NamedTimeInterval] = Field(
        default_factory=list, alias="mute_time_intervals"
    )

    _original: str = PrivateAttr("")
    _time_intervals: dict[str, list[TimeIntervalSpec]] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _merge_time_intervals(self) -> Config:
        merged: dict[str, list[TimeIntervalSpec]] = {}
        # Duplicate names are reported with their line by tocsin.config.semantics; the first wins here.
        for named in [*self.mute_time_interval_list, *self.time_interval_list]:
            merged.setdefault(named.name, list(named.time_intervals))
        self._time_intervals = merged
        return self

    @property
    def time_intervals(self) -> dict[str, list[TimeIntervalSpec]]:
        """Named time intervals from ``time_intervals`` and the deprecated ``mute_time_intervals``."""
        return self._time_intervals

    @property
    def original(self) -> str:
        """The source text this config was loaded from."""
        return self._original

    def set_original(self, text: str) -> None:
        self._original = text

    def receiver(self, name: str) -> ReceiverConfig | None:
        for r in self.receivers:
            if r.name == name:
                return r
        return None

    def receiver_names(self) -> list[str]:
        return [r.name for r in self.receivers]

    def to_yaml(self, mask_secrets: bool = True, *, include_extensions: bool = False) -> str:
        """Re-serialise as YAML that both ``load_config_text`` and Alertmanager's tools parse.

        Secrets print as ``<secret>`` (as Alertmanager's /api/v2/status does) unless
        ``mask_secrets`` is false. tocsin-only keys (``log_configs``) are left out by default
        because Alertmanager's strict parser, which ``amtool config routes`` runs on
        /api/v2/status, rejects unknown keys; pass ``include_extensions=True`` for a faithful copy.
        """
        return config_to_yaml(self, mask_secrets=mask_secrets, include_extensions=include_extensions)

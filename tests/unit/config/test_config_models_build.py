"""The config models build their validators when first used (``defer_build`` on StrictModel), so
a model that cannot build would fail only when a config first has its section: build them all."""

from __future__ import annotations

import pytest
from pydantic import BaseModel
from pydantic_core import SchemaSerializer, SchemaValidator

import tocsin.config
import tocsin.incidents.config
from tocsin.config.types import StrictModel


def _subclasses(cls: type[BaseModel]) -> list[type[BaseModel]]:
    out = []
    for sub in cls.__subclasses__():
        out += [sub, *_subclasses(sub)]
    return out


MODELS = _subclasses(StrictModel)


def test_the_models_of_both_config_files_are_found() -> None:
    assert tocsin.config.Config in MODELS
    assert tocsin.incidents.config.IncidentsConfig in MODELS
    assert len(MODELS) > 50


@pytest.mark.parametrize("model", MODELS, ids=lambda m: f"{m.__module__}.{m.__qualname__}")
def test_the_model_builds(model: type[BaseModel]) -> None:
    model.model_rebuild(force=True, raise_errors=True)
    assert isinstance(model.__pydantic_validator__, SchemaValidator)
    assert isinstance(model.__pydantic_serializer__, SchemaSerializer)

"""Streaming anomaly detectors behind one interface (see :mod:`.base`)."""

from tocsin.intelligence.anomaly.base import Detector, State, StateError, detector_from_state
from tocsin.intelligence.anomaly.baseline import RobustBaseline
from tocsin.intelligence.anomaly.combined import (
    Ensemble,
    Refractory,
    Smoothed,
    compact_detector,
    tocsin_detector,
)
from tocsin.intelligence.anomaly.learned import ArResidual
from tocsin.intelligence.anomaly.likelihood import EmpiricalTail, Likelihood
from tocsin.intelligence.anomaly.registry import SeriesDetectors

__all__ = [
    "ArResidual",
    "Detector",
    "EmpiricalTail",
    "Ensemble",
    "Likelihood",
    "Refractory",
    "RobustBaseline",
    "SeriesDetectors",
    "Smoothed",
    "State",
    "StateError",
    "compact_detector",
    "detector_from_state",
    "tocsin_detector",
]

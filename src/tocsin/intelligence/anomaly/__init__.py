"""Streaming anomaly detectors behind one interface (see :mod:`.base`)."""

from tocsin.intelligence.anomaly.base import Detector, State, StateError, detector_from_state
from tocsin.intelligence.anomaly.baseline import RobustBaseline
from tocsin.intelligence.anomaly.batched import TocsinBatch
from tocsin.intelligence.anomaly.combined import (
    Ensemble,
    Refractory,
    Smoothed,
    compact_detector,
    pair_detector,
    tocsin_detector,
)
from tocsin.intelligence.anomaly.contextual import ContextPrediction
from tocsin.intelligence.anomaly.learned import ArResidual
from tocsin.intelligence.anomaly.likelihood import EmpiricalTail, Likelihood
from tocsin.intelligence.anomaly.registry import SeriesDetectors
from tocsin.intelligence.anomaly.resonance import FuzzyArt

__all__ = [
    "ArResidual",
    "ContextPrediction",
    "Detector",
    "EmpiricalTail",
    "Ensemble",
    "FuzzyArt",
    "Likelihood",
    "Refractory",
    "RobustBaseline",
    "SeriesDetectors",
    "Smoothed",
    "State",
    "StateError",
    "TocsinBatch",
    "compact_detector",
    "detector_from_state",
    "pair_detector",
    "tocsin_detector",
]

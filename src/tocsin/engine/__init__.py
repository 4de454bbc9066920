"""The alert engine: store, silences, inhibition, time intervals, routing, dispatch, notification log."""

"""Intelligence: anomaly detection, forecasting, correlation, self-tuning thresholds."""

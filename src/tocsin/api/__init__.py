"""HTTP: Alertmanager API v2, health and reload endpoints, and tocsin's own API."""

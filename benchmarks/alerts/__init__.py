"""Side-by-side load benchmark for servers speaking Alertmanager's API v2 (tocsin, Alertmanager)."""

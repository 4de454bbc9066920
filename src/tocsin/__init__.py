"""tocsin: self-hosted alert management and incident response."""

__version__ = "0.1.0"

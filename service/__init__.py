"""Seatwise: operations backend for an e-commerce customer-service outsourcer."""

__version__ = "0.1.0"

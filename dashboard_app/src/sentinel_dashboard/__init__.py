"""Sentinel market dashboard: schema, candle loader, CLI and Streamlit page."""

__version__ = "0.1.0"

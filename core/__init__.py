"""Shared records, data formats, model registry and device choice. Stdlib + pydantic + yaml only at import."""

"""The REST API under /api/v1: the only layer that imports FastAPI and pydantic."""

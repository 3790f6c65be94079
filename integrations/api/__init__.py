"""The public API, `/api/v1/`, on Django Ninja (see docs/api.md for why)."""

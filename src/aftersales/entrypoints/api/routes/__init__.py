"""One router per resource of API.md; app.py mounts them under /api/v1."""

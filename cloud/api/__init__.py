"""HTTP API (FastAPI) and the web console it serves; every asset is local (no CDN)."""

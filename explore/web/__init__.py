"""The FastAPI application: REST routers and the Panel pages, one ASGI process."""

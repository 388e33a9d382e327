"""The HTTP server: JSON API, OpenAPI document, console (``create_app``)."""

"""The web process: Reflex dashboard and the REST API, both on relay_core services."""

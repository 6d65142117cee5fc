"""The relay process: WebSocket endpoints on top of relay_core (run with `python -m relay_ws`)."""

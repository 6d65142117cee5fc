"""Business rules as keyword-only functions; the REST API, the UI and the CLI all call these."""

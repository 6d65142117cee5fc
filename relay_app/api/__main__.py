"""Serve the REST API alone with uvicorn (tests and API-only deployments): python -m relay_app.api."""

from __future__ import annotations

import argparse
import sys

import uvicorn
from sqlalchemy.exc import SQLAlchemyError

from relay_app.api import create_api
from relay_core.bootstrap import announce, describe_database_error, prepare_database
from relay_core.logs import configure_logging
from relay_core.settings import load_settings_or_exit


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the relay platform's REST API without the dashboard.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=None, help="default RELAY_WEB_PORT")
    args = parser.parse_args()
    settings = load_settings_or_exit()
    configure_logging(settings)
    try:
        announce(prepare_database(settings), settings)
    except (OSError, SQLAlchemyError) as exc:
        sys.stderr.write(f"the database is not usable: {describe_database_error(exc)}\n")
        raise SystemExit(1) from None
    app = create_api(settings)
    uvicorn.run(app, host=args.host, port=args.port or settings.web_port, log_config=None, access_log=False)


if __name__ == "__main__":
    main()

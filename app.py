"""Start the web app and its API (/v1): settings -> Assistant (with the sample collection on first start) -> serve.

python app.py                         login with the users in ASSISTANT_DATA_DIR/users.json
python app.py --no-auth               no login, localhost only
python app.py --host 0.0.0.0 --port 8080
"""

import argparse
import os

from assistant.errors import AssistantError
from assistant.sample import index_sample_if_empty
from assistant.server import serve
from assistant.service import Assistant
from assistant.settings import load_settings


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="The briefing assistant's web app.")
    parser.add_argument("--host", help="address to listen on (default: ASSISTANT_HOST, else 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, help="port to listen on (default: ASSISTANT_PORT, else GRADIO_SERVER_PORT, else 7860)"
    )
    parser.add_argument("--no-auth", action="store_true", help="no login; serves on localhost only")
    return parser.parse_args()  # an unknown option is refused with the usage, not ignored


def overrides(given: argparse.Namespace) -> dict[str, object]:
    """The command line first, then ASSISTANT_ variables, then Gradio's own, then the defaults."""
    chosen: dict[str, object] = {}
    for field, gradio_variable in (("host", "GRADIO_SERVER_NAME"), ("port", "GRADIO_SERVER_PORT")):
        if getattr(given, field) is not None:
            chosen[field] = getattr(given, field)
        elif f"ASSISTANT_{field.upper()}" not in os.environ and gradio_variable in os.environ:
            chosen[field] = os.environ[gradio_variable]
    return chosen


if __name__ == "__main__":
    given = arguments()
    try:
        settings = load_settings(**overrides(given))
        assistant = Assistant(settings)
        if settings.sample_collection:
            index_sample_if_empty(assistant, settings.data_dir / "sample")
    except AssistantError as error:
        raise SystemExit(f"Error: {error}") from None
    try:
        serve(assistant, no_auth=given.no_auth)
    except OSError as error:  # e.g. the port is taken
        raise SystemExit(f"Error: cannot serve on {settings.host}:{settings.port}: {error}") from None

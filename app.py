"""Start the assistant's web app: settings -> Assistant -> Gradio UI -> launch."""

from assistant.service import Assistant
from assistant.settings import Settings
from assistant.ui import build_ui

if __name__ == "__main__":
    settings = Settings()
    build_ui(Assistant(settings)).launch(server_name=settings.host, server_port=settings.port)

"""Start the assistant's web app: settings -> Assistant (with the sample collection on first start) -> UI -> launch.

python app.py              login with the users in ASSISTANT_DATA_DIR/users.json
python app.py --no-auth    no login, localhost only
"""

import sys

from assistant.sample import index_sample_if_empty
from assistant.service import Assistant
from assistant.settings import Settings
from assistant.ui import serve

if __name__ == "__main__":
    settings = Settings()
    assistant = Assistant(settings)
    if settings.sample_collection:
        index_sample_if_empty(assistant, settings.data_dir / "sample")
    serve(assistant, no_auth="--no-auth" in sys.argv[1:])

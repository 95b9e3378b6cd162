"""End to end in a real browser: Debian's chromium driven by Playwright against `python app.py`.

Screenshots of the four tabs go to SCREENSHOTS_DIR when it is set (docs/screenshots for the
README), else to the test's temporary directory.
"""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
PASSWORDS = {"huda": "admin-password-1", "mona": "official-password-1"}
DOCUMENT = (
    "مؤتمر المياه في عمّان\n"
    "عقد في عمّان مؤتمر إقليمي عن أمن المياه في الشرق الأوسط بحضور 45 خبيراً من دول المنطقة. "
    "وناقش الخبراء مشاريع تحلية المياه ونقلها بين الدول المجاورة.\n"
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app as a user starts it, with two users, on a free port."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    pytest.importorskip("playwright")
    home = tmp_path_factory.mktemp("app")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {name: value for name, value in os.environ.items() if not name.startswith("ASSISTANT_")}
    env |= {
        "ASSISTANT_DATA_DIR": str(home / "data"),
        "ASSISTANT_INDEX_DIR": str(home / "index"),
        "ASSISTANT_PORT": str(port),
        # Temporary files (exports, Gradio's cache) stay in the run's folder too.
        "TMPDIR": str(home),
        "GRADIO_TEMP_DIR": str(home / "gradio"),
        # The fake embedder keeps the test fast; the real one is tested in test_llm_backends.py.
        "ASSISTANT_EMBEDDER": "fake",
        "ASSISTANT_EXTRACTIVE_MIN_SIMILARITY": "0.2",
    }
    for name, role in [("huda", "admin"), ("mona", "official")]:
        subprocess.run(
            [sys.executable, "-m", "assistant", "users", "add", name, "--role", role, "--password-stdin"],
            input=PASSWORDS[name] + "\n", text=True, env=env, check=True, cwd=home,
        )  # fmt: skip
    app = subprocess.Popen([sys.executable, str(ROOT / "app.py")], env=env, cwd=home, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(url, timeout=1)
                break
            except OSError:
                if app.poll() is not None:
                    pytest.fail(f"the app exited: {app.stderr.read().decode()[-2000:] if app.stderr else ''}")
                time.sleep(0.5)
        yield url, home
    finally:
        app.terminate()
        app.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("SCREENSHOTS_DIR", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def log_in(browser, url: str, name: str):
    page = browser.new_page(viewport={"width": 1180, "height": 760})
    page.goto(url)
    page.get_by_label("username").fill(name)
    page.get_by_label("password").fill(PASSWORDS[name])
    page.get_by_role("button", name="Login").click()
    page.get_by_text(f"Signed in as {name}").wait_for(timeout=30_000)
    return page


def test_admin_uploads_asks_in_arabic_and_sees_the_cited_source(server, browser, shots, tmp_path):
    from playwright.sync_api import expect

    url, _ = server
    page = log_in(browser, url, "huda")

    page.get_by_role("tab", name="Admin · الإدارة").click()
    document = tmp_path / "مؤتمر المياه.txt"
    document.write_text(DOCUMENT, encoding="utf-8")
    page.locator("#upload input[type=file]").set_input_files(str(document))
    page.locator("#index-button").click()
    expect(page.locator("#results")).to_contain_text("added", timeout=60_000)
    expect(page.locator("#documents")).to_contain_text("مؤتمر المياه في عمّان")
    page.screenshot(path=str(shots / "admin.png"))

    page.get_by_role("tab", name="Ask · اسأل").click()
    page.locator("#question textarea").fill("كم خبيراً حضر مؤتمر المياه في عمّان؟")
    page.locator("#ask-button").click()
    marker = page.locator("#chat a.marker").first
    marker.wait_for(timeout=60_000)
    answer = page.locator("#chat [dir=rtl]").last
    assert "45 خبيراً" in answer.inner_text()
    highlighted = page.locator("#sources mark").first
    highlighted.wait_for()
    assert "45 خبيراً" in highlighted.inner_text()
    assert "مؤتمر المياه في عمّان" in page.locator("#sources").inner_text()
    page.screenshot(path=str(shots / "ask.png"))
    marker.click()  # a marker leads to its source
    assert page.locator("#sources .source").first.get_attribute("id") == f"source-{marker.inner_text().strip('[]')}"

    page.get_by_role("tab", name="Brief · مذكرة").click()
    page.locator("#topic textarea").fill("أمن المياه في الشرق الأوسط")
    page.get_by_role("button", name="1. Propose an outline · اقترح مخططاً").click()
    page.wait_for_function("document.querySelector('#outline textarea').value.length > 0", timeout=60_000)
    page.get_by_role("button", name="2. Write the note · اكتب المذكرة").click()
    page.wait_for_function("document.querySelector('#note textarea').value.includes('## ')", timeout=120_000)
    assert "45 خبيراً" in page.locator("#note textarea").input_value()
    expect(page.locator("#preview")).to_contain_text("45 خبيراً")
    page.wait_for_timeout(1000)  # the preview's fade-in, for the screenshot
    page.screenshot(path=str(shots / "brief.png"))

    page.get_by_role("tab", name="Status · الحالة").click()
    expect(page.locator("#status")).to_contain_text('"embedder": "fake"')
    expect(page.locator("#status")).to_contain_text("Version")
    page.screenshot(path=str(shots / "status.png"))
    page.close()


def test_an_official_sees_no_admin_functions_and_is_refused_by_the_api(server, browser, shots):
    url, home = server
    page = log_in(browser, url, "mona")
    assert page.get_by_role("tab", name="Ask · اسأل").is_visible()
    page.screenshot(path=str(shots / "official.png"))
    for hidden in ("Admin · الإدارة", "Brief · مذكرة"):
        tab = page.get_by_role("tab", name=hidden)
        assert tab.count() == 0 or not tab.is_visible()
    assert page.locator("#upload").count() == 0 or not page.locator("#upload").is_visible()
    page.close()

    from gradio_client import Client

    client = Client(url, auth=("mona", PASSWORDS["mona"]), verbose=False)
    with pytest.raises(Exception, match="Not permitted"):
        client.predict(api_name="/documents")
    with pytest.raises(Exception, match="Not permitted"):
        client.predict("0000000000000000", api_name="/remove_document")
    audit = (home / "data/audit.jsonl").read_text(encoding="utf-8")
    assert '"user": "mona", "action": "denied"' in audit
    assert '"action": "index_add"' in audit


def test_the_openai_client_gets_cited_streamed_answers_from_python_app_py(server):
    """The API of the very process `python app.py` starts, with a token and a grant made by the CLI."""
    import openai

    url, home = server
    env = {name: value for name, value in os.environ.items() if not name.startswith("ASSISTANT_")}
    env |= {"ASSISTANT_DATA_DIR": str(home / "data"), "ASSISTANT_INDEX_DIR": str(home / "index")}

    def cli(*args: str) -> str:
        run = subprocess.run(
            [sys.executable, "-m", "assistant", *args], env=env, cwd=home, capture_output=True, text=True
        )
        assert run.returncode == 0, run.stderr
        return run.stdout

    token = cli("tokens", "create", "mona").strip()
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=token, max_retries=0, timeout=120)
    question = [{"role": "user", "content": "كم دولة شاركت في اجتماع مجموعة العمل في الكويت؟"}]
    declined = client.chat.completions.create(model="briefing-assistant", messages=question)
    assert not declined.model_extra["answered"]  # mona was added after the registry was made: no grant yet
    cli("access", "grant", "default", "--user", "mona")
    chunks = list(client.chat.completions.create(model="briefing-assistant", messages=question, stream=True))
    assert "28" in "".join(chunk.choices[0].delta.content or "" for chunk in chunks)
    assert any("28" in citation["quote"] for citation in chunks[-1].model_extra["citations"])

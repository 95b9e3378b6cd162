"""The HTTP API and the login, against the real server (the app and /v1 in one process, as
`python app.py` serves them), driven by the official `openai` client and by plain HTTP."""

import socket
import threading
import time
from collections.abc import Iterator

import httpx
import openai
import pytest
import uvicorn

from assistant.logins import LoginGuard
from assistant.server import build_app
from assistant.tokens import TokenStore
from tests.test_access import LEAKS, PASSWORD, SECRET_QUESTION, collections_app  # noqa: F401 - a fixture

pytestmark = pytest.mark.slow


@pytest.fixture
def server(collections_app) -> Iterator[tuple[str, object]]:  # noqa: F811 - the fixture imported above
    """The assistant of test_access (collections public and secret, six users) served on a free port."""
    assistant = collections_app.assistant
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    running = uvicorn.Server(uvicorn.Config(build_app(assistant, no_auth=False), port=port, log_level="warning"))
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    for _ in range(200):
        if running.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", assistant
    running.should_exit = True
    thread.join(timeout=10)


def token_for(assistant, user: str) -> tuple[str, str]:
    return TokenStore(assistant.settings.data_dir / "tokens.json").create(user, "test")


def client(url: str, token: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key=token, max_retries=0, timeout=120)


def test_the_openai_client_gets_a_cited_answer_and_streams_it(server):
    url, assistant = server
    _, token = token_for(assistant, "omar")  # reads the secret collection through his group
    completion = client(url, token).chat.completions.create(
        model="briefing-assistant", messages=[{"role": "user", "content": SECRET_QUESTION}]
    )
    assert "4321" in completion.choices[0].message.content
    extra = completion.model_extra
    assert extra["answered"]
    assert any("4321" in citation["quote"] for citation in extra["citations"])
    assert all("source" not in citation for citation in extra["citations"])  # no path of the server
    stream = client(url, token).chat.completions.create(
        model="briefing-assistant", messages=[{"role": "user", "content": SECRET_QUESTION}], stream=True
    )
    chunks = list(stream)
    streamed = "".join(chunk.choices[0].delta.content or "" for chunk in chunks)
    assert "4321" in streamed
    assert len(chunks) >= 3
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].model_extra["citations"]


def test_a_follow_up_is_read_with_the_messages_before_it(server):
    url, assistant = server
    _, token = token_for(assistant, "omar")
    completion = client(url, token).chat.completions.create(
        model="briefing-assistant",
        messages=[
            {"role": "user", "content": SECRET_QUESTION},
            {"role": "assistant", "content": "اتفقوا على تسليم 4321 طناً من القمح [1]."},
            {"role": "user", "content": "ومن يرأس الوفد؟"},
        ],
    )
    assert completion.model_extra["searched_for"].startswith("ومن يرأس الوفد؟")
    assert "برهوم" in completion.choices[0].message.content


def test_refused_without_a_token_with_a_revoked_one_or_for_a_collection_not_granted(server):
    url, assistant = server
    question = [{"role": "user", "content": SECRET_QUESTION}]
    token_id, token = token_for(assistant, "omar")
    TokenStore(assistant.settings.data_dir / "tokens.json").revoke(token_id)
    with pytest.raises(openai.AuthenticationError):
        client(url, token).chat.completions.create(model="briefing-assistant", messages=question)
    _, mona = token_for(assistant, "mona")
    with pytest.raises(openai.PermissionDeniedError, match="secret"):
        client(url, mona).chat.completions.create(
            model="briefing-assistant", messages=question, extra_body={"collections": ["secret"]}
        )
    completion = client(url, mona).chat.completions.create(model="briefing-assistant", messages=question)
    shown = completion.model_dump_json()
    assert [word for word in LEAKS if word in shown] == []
    assert not completion.model_extra["answered"]
    unsigned = httpx.post(f"{url}/v1/chat/completions", json={"model": "briefing-assistant", "messages": question})
    assert unsigned.status_code == 401
    with pytest.raises(openai.AuthenticationError):
        client(url, "ba_000000000000_not-a-secret").chat.completions.create(
            model="briefing-assistant", messages=question
        )
    # three bad tokens in a row from this address (the revoked one too): the next bad one waits
    with pytest.raises(openai.RateLimitError, match="wait"):
        client(url, "sk-anything").chat.completions.create(model="briefing-assistant", messages=question)
    # a valid token cannot be guessed, so it is served whatever its address did
    assert client(url, mona).chat.completions.create(model="briefing-assistant", messages=question).choices


def test_the_search_endpoint_keeps_to_the_callers_collections(server):
    url, assistant = server
    _, mona = token_for(assistant, "mona")
    _, omar = token_for(assistant, "omar")
    for token, expected in [(mona, "kuwait.txt"), (omar, None)]:
        reply = httpx.post(
            f"{url}/v1/search", json={"query": "القمح والكويت", "k": 5}, headers={"Authorization": f"Bearer {token}"}
        )
        assert reply.status_code == 200, reply.text
        titles = {hit["title"] for hit in reply.json()["data"]}
        if expected:  # mona reads public only
            assert titles == {"اجتماع الكويت"}
        else:  # omar reads secret only
            assert titles == {"مفاوضات الزيتون السرية"}
    assert httpx.post(f"{url}/v1/search", json={"query": "x"}).status_code == 401


def log_in(url: str, name: str, password: str) -> int:
    return httpx.post(f"{url}/login", data={"username": name, "password": password}).status_code


def test_wrong_passwords_are_delayed_then_lock_the_account_until_an_admin_lifts_it(server):
    url, assistant = server
    assert log_in(url, "mona", PASSWORD) == 200
    started = time.perf_counter()
    for _ in range(40):
        assert log_in(url, "mona", "guess-guess-guess") == 400
    assert time.perf_counter() - started < 30  # refused fast: nothing sleeps on the server
    assert log_in(url, "mona", PASSWORD) == 400  # the right password no longer opens it
    guard = LoginGuard(assistant.settings.data_dir / "logins.db")
    assert ("user", "mona") in {(kind, key) for kind, key, _ in guard.locked()}
    actions = [e["action"] for e in assistant_audit(assistant) if e["user"] == "mona"]
    assert actions.count("login_failed") == 3  # then only refusals: the password is not even checked
    assert "login_refused" in actions
    assert guard.unlock("mona", "127.0.0.1")
    assert log_in(url, "mona", PASSWORD) == 200


def test_a_few_mistakes_cost_a_short_wait_not_a_lockout(server):
    url, assistant = server
    for _ in range(3):
        assert log_in(url, "sami", "wrong password!") == 400
    assert log_in(url, "sami", PASSWORD) == 400  # within the one-second delay after the third mistake
    time.sleep(2.1)  # the delay after that fourth attempt
    assert log_in(url, "sami", PASSWORD) == 200
    assert LoginGuard(assistant.settings.data_dir / "logins.db").locked() == []


def test_bad_tokens_from_one_address_lock_it_for_bad_tokens_and_logins(server):
    url, assistant = server
    _, omar = token_for(assistant, "omar")
    for _ in range(30):
        httpx.get(f"{url}/v1/models", headers={"Authorization": "Bearer ba_guess_guess"})
    reply = httpx.get(f"{url}/v1/models", headers={"Authorization": "Bearer ba_guess_again"})
    assert reply.status_code == 429
    assert "locked" in reply.text
    assert log_in(url, "huda", PASSWORD) == 400  # the address is locked for logins too
    assert httpx.get(f"{url}/v1/models", headers={"Authorization": f"Bearer {omar}"}).status_code == 200
    LoginGuard(assistant.settings.data_dir / "logins.db").unlock(address="127.0.0.1")
    assert log_in(url, "huda", PASSWORD) == 200


def test_guesses_sent_in_parallel_are_not_all_checked(server):
    url, assistant = server
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: log_in(url, "huda", "parallel guess!"), range(40)))
    checked = [e for e in assistant_audit(assistant) if e["user"] == "huda" and e["action"] == "login_failed"]
    assert len(checked) <= 3  # the rest were refused unchecked: each attempt is counted before it is checked


def assistant_audit(assistant) -> list[dict]:
    from assistant.audit import AuditLog

    return AuditLog(assistant.settings.data_dir / "audit.jsonl").entries()

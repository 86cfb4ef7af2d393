"""The history of sightings, on SQLite and on a real PostgreSQL server: the store, attendance
figures worked out by hand, the recorder on the Hamilton clip, erasure, retention, two writers,
a killed process, the database going away mid-run, a full disk, bad targets."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime

import cv2
import numpy as np
import pytest

from facecam.history import Face, History, Record, Writer, attendance, parse_time
from helpers import CLIP, LIN, assert_one_line_error, copy_registry, facecam


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request, tmp_path):
    """A fresh, empty history: a SQLite file, or a database on the test PostgreSQL server."""
    if request.param == "sqlite":
        return str(tmp_path / "history.sqlite")
    return request.getfixturevalue("postgres").new_database()


def local(*args) -> float:
    """A local wall-clock time (the machine's zone, as the reports use) as epoch seconds."""
    return datetime(*args).timestamp()


def record(key, name, start, end, source="door", frames=10, score=0.9, face=None) -> Record:
    """A closed sighting; key "k<N>" gives it track N."""
    return Record(key=key, source=source, track_id=int(key[1:]), name=name, started_at=start, ended_at=end, start_s=None, end_s=None, frames=frames,
                  best_score=score, closed=True, face=face)


def store_all(target, records) -> dict:
    history = History.open(target, create=True)
    ids: dict = {}
    history.write(records, ids)
    history.close()
    return ids


# --- the store


def test_sightings_are_written_updated_and_filtered(target):
    history = History.open(target, create=True)
    ids: dict = {}
    t0 = local(2026, 11, 2, 9, 0)
    records = [record("k1", "Alice", t0, t0 + 60), record("k2", None, t0 + 30, t0 + 90, source="desk"),
               record("k3", "Bob", t0 + 3600, t0 + 3700, source="desk"), record("k4", "Alice", t0 + 7200, t0 + 7300)]
    history.write(records, ids)
    assert sorted(ids) == ["k1", "k2", "k3", "k4"]
    records[0].frames, records[0].ended_at = 99, t0 + 120  # a long sighting updated in place
    history.write([records[0]], ids)
    id_of = {key: ids[key] for key in ids}
    got = lambda **kw: [r["id"] for r in history.sightings(**kw)]  # noqa: E731
    assert got() == [id_of[k] for k in ("k4", "k3", "k2", "k1")]  # newest first
    assert got(name="Alice") == [id_of["k4"], id_of["k1"]]
    assert got(unknown=True) == [id_of["k2"]]
    assert got(source="desk") == [id_of["k3"], id_of["k2"]]
    assert got(since=t0 + 100, until=t0 + 3650) == [id_of["k3"], id_of["k1"]]  # overlapping, not contained
    assert got(limit=2, offset=1) == [id_of["k3"], id_of["k2"]]
    first = history.sightings(name="Alice")[-1]
    assert (first["frames"], first["ended_at"], first["started_at"]) == (99, t0 + 120, t0)
    assert history.count() == 4 and history.count(name="Alice") == 2
    history.close()


def test_a_face_is_stored_with_its_sighting_and_goes_with_it(target):
    crop = np.random.default_rng(1).integers(0, 255, (224, 224, 3), np.uint8)
    jpeg = cv2.imencode(".jpg", crop)[1].tobytes()
    landmarks, vector = np.arange(10, dtype=np.float32).reshape(5, 2), np.linspace(-1, 1, 128).astype(np.float32)
    t0 = local(2026, 11, 2, 9, 0)
    ids = store_all(target, [record("k1", "Alice", t0, t0 + 5, face=Face(jpeg, landmarks, vector, "sface")),
                             record("k2", None, t0, t0 + 5, face=Face(jpeg, landmarks, vector, "sface"))])
    history = History.open(target)
    face = history.face(ids["k1"])
    assert face.crop == jpeg and face.model == "sface"
    assert np.array_equal(face.landmarks, landmarks) and np.array_equal(face.embedding, vector)
    assert history.best_faces(["Alice", "Bob"], None, None) == {"Alice": jpeg}
    assert history.erase("Alice") == 1
    assert history.face(ids["k1"]) is None and history.face(ids["k2"]) is not None
    assert history.prune(t0 + 10, unknown_only=True) == 1 and history.face(ids["k2"]) is None
    history.close()


def test_naming_and_erasing_chosen_sightings(target):
    """What `unknowns enrol`, `forget` and `history correct` do to the store, on both databases."""
    jpeg = cv2.imencode(".jpg", np.zeros((224, 224, 3), np.uint8))[1].tobytes()
    face = Face(jpeg, np.zeros((5, 2), np.float32), np.ones(4, np.float32) / 2, "m", sharpness=12.5)
    ids = store_all(target, [record(f"k{k}", None, k, k + 1, face=face) for k in range(1, 5)])
    history = History.open(target)
    assert history.set_name([ids["k1"], ids["k2"]], "Alice") == 2 and history.set_name([], "Bob") == 0
    assert [r["id"] for r in history.with_faces(unknown=True)] == [ids["k3"], ids["k4"]]  # oldest first
    assert {r["sharpness"] for r in history.with_faces()} == {12.5}
    assert history.sighting(ids["k1"])["name"] == "Alice" and history.sighting(10**6) is None
    assert history.erase_sightings([ids["k3"], 10**6]) == 1 and history.erase_sightings([]) == 0
    assert history.face(ids["k3"]) is None and history.count() == 3
    assert history.set_name([ids["k1"]], None) == 1 and history.count(unknown=True) == 2
    history.close()


def test_a_version_1_history_gains_face_sharpness_and_live(target):
    """A history made by the facecam before faces kept their sharpness (and sightings said whether
    they were checked for liveness): opening it adds the columns; its faces have no sharpness
    stored, and the unknown faces' grouping measures them from their crops; its sightings were
    not checked (live null)."""
    from sqlalchemy import text

    from facecam.quality import face_measures
    from facecam.history.unknowns import sharpness

    crop = np.random.default_rng(2).integers(0, 255, (224, 224, 3), np.uint8)
    jpeg = cv2.imencode(".jpg", crop)[1].tobytes()
    landmarks = np.array([[77, 96], [147, 96], [112, 136], [83, 172], [141, 172]], np.float32)
    ids = store_all(target, [record("k1", None, 1.0, 2.0, face=Face(jpeg, landmarks, np.ones(4, np.float32) / 2, "m"))])
    history = History.open(target)
    with history.engine.begin() as conn:  # back to version 1's shape
        conn.execute(text("ALTER TABLE faces DROP COLUMN sharpness"))
        conn.execute(text("ALTER TABLE sightings DROP COLUMN live"))
        conn.execute(text("UPDATE facecam_schema SET version = 1"))
    history.close()
    history = History.open(target)
    with history.engine.connect() as conn:
        assert conn.execute(text("SELECT version FROM facecam_schema")).scalar() == 3
    (row,) = history.with_faces(unknown=True)
    assert row["id"] == ids["k1"] and row["sharpness"] is None and row["live"] is None
    decoded = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert sharpness(history, row) == face_measures(decoded, landmarks)[0]
    history.close()


def test_attendance_figures_worked_out_by_hand(target):
    """Three days of sightings; gap 5 min. The figures below are worked out by hand."""
    d1 = lambda h, m=0, s=0: local(2026, 11, 2, h, m, s)  # noqa: E731
    d2 = lambda h, m=0, s=0: local(2026, 11, 3, h, m, s)  # noqa: E731
    store_all(target, [
        # Alice, day 1: 08:00-08:10 and 08:12-08:20 are 2 min apart (one stretch, 20 min); 12:00-12:05 is
        # hours later (its own 5 min): 25 min present, 3 sightings, first 08:00, last 12:05
        record("k1", "Alice", d1(8), d1(8, 10)), record("k2", "Alice", d1(8, 12), d1(8, 20), source="desk"),
        record("k3", "Alice", d1(12), d1(12, 5)),
        # Alice, day 2: one sighting inside another (counted once: 30 min), then one 5 min later exactly
        # (not less than the gap: a new stretch of 1 min) -> 31 min
        record("k4", "Alice", d2(9), d2(9, 30)), record("k5", "Alice", d2(9, 10), d2(9, 20)),
        record("k6", "Alice", d2(9, 35), d2(9, 36)),
        # Bob crosses midnight: 23:50 to 00:20 counts 10 min on day 1 and 20 min on day 2
        record("k7", "Bob", d1(23, 50), d2(0, 20)),
        # an unknown face all day: no attendance row
        record("k8", None, d1(7), d1(19)),
    ])
    history = History.open(target)
    rows = attendance(history.named_intervals(None, None))
    iso = printed_time
    assert rows == [
        {"name": "Alice", "day": "2026-11-02", "first_seen": iso(d1(8)), "last_seen": iso(d1(12, 5)),
         "present_s": 1500.0, "sightings": 3, "sources": ["desk", "door"]},
        {"name": "Bob", "day": "2026-11-02", "first_seen": iso(d1(23, 50)), "last_seen": iso(d2(0)),
         "present_s": 600.0, "sightings": 1, "sources": ["door"]},
        {"name": "Alice", "day": "2026-11-03", "first_seen": iso(d2(9)), "last_seen": iso(d2(9, 36)),
         "present_s": 1860.0, "sightings": 3, "sources": ["door"]},
        {"name": "Bob", "day": "2026-11-03", "first_seen": iso(d2(0)), "last_seen": iso(d2(0, 20)),
         "present_s": 1200.0, "sightings": 1, "sources": ["door"]},
    ]
    # with no gap allowed only the sightings themselves count: 10 + 8 + 5 = 23 min on day 1
    assert attendance(history.named_intervals(None, None), gap=0)[0]["present_s"] == 1380.0
    # one day: the rows of that day, Bob's part after midnight only
    day2 = attendance(history.named_intervals(d2(0), local(2026, 11, 4)), since=d2(0), until=local(2026, 11, 4))
    assert [(r["name"], r["present_s"]) for r in day2] == [("Alice", 1860.0), ("Bob", 1200.0)]
    history.close()


def test_attendance_days_are_local_days(tmp_path):
    """The same sightings grouped by the days of the zone the report runs in (TZ)."""
    target = tmp_path / "history.sqlite"
    t = datetime.fromisoformat("2026-11-02T23:30:00+00:00").timestamp()  # 23:30 UTC = 08:30 next day in Tokyo
    store_all(str(target), [record("k1", "Alice", t, t + 600)])
    days = {}
    for zone in ("UTC", "Asia/Tokyo", "America/New_York"):
        result = facecam("report", "attendance", "--since", "2026-10-01", "--until", "2026-12-01", "--history", target,
                         "--json", env={"TZ": zone})
        assert result.returncode == 0, result.stderr
        (row,) = [json.loads(line) for line in result.stdout.splitlines()]
        days[zone] = (row["day"], row["present_s"], row["first_seen"])
    assert days == {"UTC": ("2026-11-02", 600.0, "2026-11-02T23:30:00.000Z"),
                    "Asia/Tokyo": ("2026-11-03", 600.0, "2026-11-02T23:30:00.000Z"),
                    "America/New_York": ("2026-11-02", 600.0, "2026-11-02T23:30:00.000Z")}


def test_times_as_people_type_them():
    now = local(2026, 11, 5, 15, 0)
    assert parse_time("2h", now) == now - 7200 and parse_time("90m", now) == now - 5400
    assert parse_time("3d", now) == now - 3 * 86400 and parse_time("1w", now) == now - 7 * 86400
    assert parse_time("today", now) == local(2026, 11, 5) and parse_time("yesterday", now) == local(2026, 11, 4)
    assert parse_time("2026-11-01", now) == local(2026, 11, 1)
    assert parse_time("2026-11-01T08:30", now) == local(2026, 11, 1, 8, 30)
    assert parse_time("2026-11-01T08:30:00Z", now) == datetime.fromisoformat("2026-11-01T08:30:00+00:00").timestamp()
    for bad in ("soon", "2h ago", "-1d", "2026-13-01"):
        with pytest.raises(ValueError):
            parse_time(bad, now)


def test_two_processes_writing_at_once_lose_nothing(target):
    """Two writer processes, 300 sightings each in batches of 10, into one history at the same time."""
    History.open(target, create=True).close()
    script = (
        "import sys\n"
        "from facecam.history import History, Record\n"
        "h = History.open(sys.argv[1])\n"
        "for batch in range(30):\n"
        "    ids = {}\n"
        "    h.write([Record(key=f'{batch}-{i}', source=sys.argv[2], track_id=10 * batch + i, name=None,"
        " started_at=1e9, ended_at=1e9 + 1, start_s=None, end_s=None, frames=1, best_score=0.5, closed=True)"
        " for i in range(10)], ids)\n"
    )
    writers = [subprocess.Popen([sys.executable, "-c", script, target, source]) for source in ("door", "desk")]
    assert [w.wait(timeout=300) for w in writers] == [0, 0]
    history = History.open(target)
    rows = history.sightings()
    assert len(rows) == 600 and len({r["id"] for r in rows}) == 600
    for source in ("door", "desk"):
        assert sorted(r["track_id"] for r in rows if r["source"] == source) == list(range(300))
    history.close()


def test_a_newer_schema_is_refused_and_an_older_one_migrated(tmp_path, monkeypatch):
    from sqlalchemy import Column, Integer, Table

    from facecam.history import schema

    path = tmp_path / "history.sqlite"
    store_all(str(path), [record("k1", "Alice", 1.0, 2.0)])

    def add_visits(conn):  # a made-up next version: a new table
        Table("visits", schema.metadata, Column("id", Integer, primary_key=True)).create(conn)

    now = schema.VERSION
    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, add_visits])
    monkeypatch.setattr(schema, "VERSION", now + 1)
    History.open(path).close()  # migrates to the next version, keeping the data
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT version FROM facecam_schema").fetchall() == [(now + 1,)]
        assert db.execute("SELECT name FROM sightings").fetchall() == [("Alice",)]
        assert db.execute("SELECT count(*) FROM visits").fetchone() == (0,)
    monkeypatch.undo()
    schema.metadata.remove(schema.metadata.tables["visits"])
    result = facecam("history", "--history", path)
    assert_one_line_error(result, 1, f"written by a newer facecam (history schema {now + 1}; this one knows up to {now})")


def test_bad_history_targets_are_one_line_errors(tmp_path, postgres, people_registry, clip):
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(os.urandom(8192))
    foreign = tmp_path / "foreign.sqlite"
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE sightings (x)")
    good = postgres.new_database()
    cases = [
        (str(junk), "not a SQLite database"),
        (str(foreign), "holds a 'sightings' table that facecam did not make"),
        (str(tmp_path), "is a folder"),
        (str(tmp_path / "absent" / "history.sqlite"), "the folder"),
        ("mysql://user@localhost/db", "not mysql"),
        ("postgresql://facecam:wrong@127.0.0.1:%d/history1" % postgres.port, 'password authentication failed for user "facecam"'),
        (good.rsplit(":", 1)[0] + ":1/x", "Connection refused"),
        (good.rsplit("/", 1)[0] + "/absent", 'database "absent" does not exist'),
    ]
    for bad, message in cases:
        result = facecam("recognize", "--source", clip, "--headless", "--registry", people_registry, "--history", bad)
        assert_one_line_error(result, 1, message)
        assert "wrong" not in result.stderr  # a password never shows
    assert_one_line_error(facecam("history", "--history", tmp_path / "none.sqlite"), 1, "no such file")
    assert_one_line_error(facecam("history", "--since", "soon", "--history", junk), 2, "'soon' is not a time")
    assert not (tmp_path / "none.sqlite").exists()


def test_a_full_disk_keeps_sightings_in_memory_until_there_is_room(tmp_path):
    """A real full file system (a 1 MB tmpfs): writes fail, nothing is lost, and once there is room
    again every sighting is stored."""
    mount = tmp_path / "small"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("cannot mount a small tmpfs here (needs root and CAP_SYS_ADMIN)")
    try:
        history = History.open(mount / "history.sqlite", create=True)
        filler = mount / "filler"
        filler.write_bytes(b"\0" * (1024 * 1024 - 256 * 1024))  # what is left: about 100 kB
        warnings = []
        writer = Writer(history, warn=warnings.append)
        jpeg = os.urandom(30_000)  # does not compress
        face = Face(jpeg, np.zeros((5, 2), np.float32), np.zeros(128, np.float32), "sface")
        for k in range(20):
            writer.put(record(f"k{k}", "Alice", float(k), k + 1.0, face=face))
        deadline = time.monotonic() + 30
        while writer.error is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert writer.error is not None and "full" in writer.error, writer.error
        assert writer.waiting > 0 and "kept in memory" in warnings[0]
        filler.unlink()
        assert writer.close(timeout=60) == 0
        assert writer.stored == 20 and warnings[-1].endswith("writing again")
        history = History.open(mount / "history.sqlite")
        assert history.count() == 20 and all(history.face(r["id"]).crop == jpeg for r in history.sightings())
        history.close()
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


# --- recognize on the Hamilton clip


@pytest.fixture(scope="module")
def clip(data):
    return data / CLIP


def run_recognize(clip, registry, target, *extra):
    result = facecam("recognize", "--source", clip, "--registry", registry, "--headless", "--json",
                     "--history", target, *extra)
    assert result.returncode == 0, result.stderr
    return printed(result.stdout)


def printed(stdout: str):
    """recognize --json: (the sightings it printed as they were stored, its summary)."""
    lines = [json.loads(line) for line in stdout.splitlines()]
    return [line["sighting"] for line in lines if "sighting" in line], lines[-1]["summary"]


@pytest.fixture(scope="module")
def clip_in_postgres(postgres, clip, people_registry):
    """The clip recognised into a PostgreSQL database, once: (its URL, the sightings printed, the
    summary, when it ran); clip_target copies it for each test."""
    url = postgres.new_database()
    before = time.time()
    sightings, summary = run_recognize(clip, people_registry, url)
    return url, sightings, summary, {"before": before, "after": time.time()}


@pytest.fixture(params=["sqlite", "postgresql"])
def clip_target(request, tmp_path, clip_seen):
    """A history of its own holding the whole clip's sightings, as recognize made it: (its target,
    the sightings recognize printed, its summary, {"before", "after"}: when it ran). SQLite: a copy
    of the file conftest's run kept; PostgreSQL: a copy of the database one run here made."""
    if request.param == "sqlite":
        for file in clip_seen.glob("history.sqlite*"):
            shutil.copy(file, tmp_path / file.name)
        sightings, summary = printed((clip_seen.parent / "recognize.jsonl").read_text())
        return str(tmp_path / "history.sqlite"), sightings, summary, json.loads((clip_seen.parent / "when.json").read_text())
    url, sightings, summary, when = request.getfixturevalue("clip_in_postgres")
    return request.getfixturevalue("postgres").copy_database(url), sightings, summary, when


def test_recognize_keeps_the_clips_sightings(clip, clip_target, people_registry, detector):
    """The clip (test_live checks its names frame by frame): Lin-Manuel Miranda is seen twice, on stage
    (frames 0-19, 20 frames) and close up (from 2.736 s to 7.007 s, 129 frames): the 149 frames the
    summary counts. Everyone else is unknown: 19 sightings, 9 of them in the audience (after 7 s).
    Every frame a track counts in belongs to exactly one sighting: 668 in all. Before faces had to
    be found in 3 frames to count it was 715: 47 fewer are the 7 tracks the detector found in one
    or two frames only (three hands and four dark audience faces, 9 frames) and the first 2 frames
    of each of the 19 strangers, before they counted (38). (Of the 715, two frames of the audience
    shot are the motion gate following a stranger's track through frames 238-241 without the
    detector, where the detector misses his dark face twice.)"""
    target, printed, summary, when = clip_target
    assert summary["history"] == {"where": summary["history"]["where"], "sightings": 21, "unsaved": 0}
    history = History.open(target)
    rows = sorted(history.sightings(), key=lambda r: r["id"])
    assert sorted(printed, key=lambda r: r["id"]) == [
        {**{k: r[k] for k in ("id", "source", "track_id", "name", "frames", "best_score")},
         "start": printed_time(r["started_at"]), "end": printed_time(r["ended_at"]),
         "start_s": round(r["start_s"], 3), "end_s": round(r["end_s"], 3), "closed": True, "live": None} for r in rows]
    named = [(r["name"], r["frames"], round(r["start_s"], 3), round(r["end_s"], 3)) for r in rows if r["name"]]
    assert named == [(LIN, 20, 0.0, 0.634), (LIN, 129, 2.736, 7.007)]
    assert sum(r["frames"] for r in rows) == 668 and sum(f for _, f, _, _ in named) == 149
    assert len([r for r in rows if r["name"] is None]) == 19
    assert len([r for r in rows if r["name"] is None and r["start_s"] >= 7.0]) == 9
    # no sighting, and so no crop, of the tracks never taken for a face: the hands (tracks 11, 17
    # and 19, by eye on bench/face_or_not.py's sheet) and four dark audience faces (8, 10, 14, 15)
    assert sorted(r["track_id"] for r in rows) == sorted(set(range(1, 29)) - {8, 10, 11, 14, 15, 17, 19})
    # the file's own timeline: one origin (the run's start), durations from positions, whatever
    # the time the machine took to read it; he is present 7.007 s (his two sightings 2.1 s apart)
    origins = {round(r["started_at"] - r["start_s"], 3) for r in rows}
    assert len(origins) == 1 and when["before"] <= origins.pop() <= when["after"]
    assert all(abs((r["ended_at"] - r["started_at"]) - (r["end_s"] - r["start_s"])) < 1e-3 for r in rows)
    (present,) = attendance(history.named_intervals(None, None))
    assert (present["name"], present["sightings"]) == (LIN, 2) and abs(present["present_s"] - 7.007) < 2e-3
    assert all(r["source"] == str(clip) and r["best_score"] >= 0.8 for r in rows if r["name"])
    from facecam.models import load_embedder
    from facecam.registry import Registry

    embedder = load_embedder("sface", device="cpu")
    registry = Registry.open(people_registry)
    for row in rows:  # every sighting keeps its best face: crop, landmarks and the vector it was named by
        face = history.face(row["id"])
        crop = cv2.imdecode(np.frombuffer(face.crop, np.uint8), cv2.IMREAD_COLOR)
        assert crop.shape == (224, 224, 3)
        assert registry.match(face.embedding[None], embedder.min_cosine())[0].name == row["name"]
        if row["name"]:  # his crops are his face, where the landmarks say (in the dark audience the
            (found,) = detector.detect(crop)  # detector also takes a logo for a face)
            assert np.abs(found.landmarks - face.landmarks).max() < 6
            assert registry.match(embedder.embed(crop, [found]), embedder.min_cosine())[0].name == LIN
    history.close()


def printed_time(seconds: float) -> str:
    from facecam.history import iso

    return iso(seconds)


def test_tables_fit_80_columns_and_empty_results_are_one_line(clip_seen, data, monkeypatch):
    """The clip's history as a newcomer reads it in an 80-column terminal: every line fits, a file
    is named by its file name (the full path is in --json), the source shared by every row is
    said once above the table, names are never broken, and nothing found is one line."""
    from facecam import ui
    from facecam.history import local_time

    monkeypatch.setattr(ui.out, "width", 80)
    listed = facecam("history", "--registry", clip_seen)
    lines = listed.stdout.splitlines()
    assert listed.returncode == 0 and max(map(len, lines)) <= 80, listed.stdout
    assert lines[0] == "source: short_hamilton_clip.mp4" and "/" not in listed.stdout
    assert lines[2].split() == ["┃", "id", "┃", "start", "(local)", "┃", "seconds", "┃", "name", "┃", "frames", "┃", "score", "┃"]
    rows = [line.split("│")[1:-1] for line in lines if line.startswith("│")]
    assert len(rows) == 21 and [r[3].strip() for r in rows].count(LIN) == 2  # one row per sighting
    history = History.open(str(clip_seen / "history.sqlite"))
    started = min(r["started_at"] for r in history.sightings())
    history.close()
    day = local_time(started, "%Y-%m-%d")
    report = facecam("report", "attendance", "--day", day, "--registry", clip_seen)
    lines = report.stdout.splitlines()
    assert max(map(len, lines)) <= 80 and lines[:3] == ["attendance", f"day: {day}", "sources: short_hamilton_clip.mp4"]
    (row,) = [line.split("│")[1:-1] for line in lines if line.startswith("│")]
    assert [cell.strip() for cell in row][:1] + [cell.strip() for cell in row][3:] == [LIN, "7 s", "2"]
    # nothing found: one line, no empty table
    empty = facecam("report", "attendance", "--day", "2001-01-01", "--registry", clip_seen)
    assert (empty.returncode, empty.stdout, empty.stderr) == (0, "", "nobody enrolled was seen, 2001-01-01\n")
    empty = facecam("history", "--name", "Alex Lacamoire", "--registry", clip_seen)
    assert (empty.returncode, empty.stdout, empty.stderr) == (0, "", "Alex Lacamoire was not seen\n")
    # the recognize summary: what was read, how fast, the time per stage, then who was seen
    run = facecam("recognize", "--source", data / CLIP, "--registry", clip_seen, "--headless", "--no-history",
                  "--max-frames", "30")
    said = [line for line in run.stderr.splitlines() if not line.startswith("device:")]
    assert run.returncode == 0 and re.fullmatch(r"short_hamilton_clip\.mp4: 30 frames in [\d.]+ s \([\d.]+ frames/s\); "
                                                r"\d+ unknown face tracks?", said[0]), run.stderr
    assert re.fullmatch(r"ms per frame: decode [\d.]+, motion [\d.]+, detect [\d.]+, track [\d.]+, embed [\d.]+, match [\d.]+", said[1])
    (row,) = [line.split("│")[1:-1] for line in run.stdout.splitlines() if line.startswith("│")]
    assert [cell.strip() for cell in row] == [LIN, "0.00", "0.63", "20"]


def test_export_then_delete_erases_a_persons_sightings_and_faces(clip_seen, tmp_path):
    """The history in its default place (the registry folder, as the clip's run left it):
    Lin-Manuel Miranda's data exported (a subject-access request), then deleted, with no trace of
    him left in the database file."""
    import zipfile

    registry = copy_registry(clip_seen, tmp_path / "registry")
    sightings, _ = printed((clip_seen.parent / "recognize.jsonl").read_text())
    lin = sorted(r["id"] for r in sightings if r["name"] == LIN)
    result = facecam("history", "export", LIN, "--output", tmp_path / "lin.zip", "--registry", registry)
    assert result.returncode == 0, result.stderr
    assert f"{LIN}: 2 sightings, 2 faces, 1 enrolment sample" in result.stderr
    with zipfile.ZipFile(tmp_path / "lin.zip") as archive:
        sample = json.loads(archive.read("enrolment.json"))["samples"][0]["id"]
        assert sorted(archive.namelist()) == sorted(["README.txt", "sightings.json", "sightings.csv", "enrolment.json",
                                                     f"enrolment/{sample}.png", *(f"faces/{i}.jpg" for i in lin)])
        assert sorted(r["id"] for r in json.loads(archive.read("sightings.json"))) == lin
        assert all(cv2.imdecode(np.frombuffer(archive.read(f"faces/{i}.jpg"), np.uint8), 1).shape == (224, 224, 3) for i in lin)
    assert_one_line_error(facecam("history", "export", "Nobody", "-o", tmp_path / "x.zip", "--registry", registry), 2,
                          "facecam holds nothing about 'Nobody'")

    result = facecam("delete", LIN, "--yes", "--registry", registry)
    assert result.returncode == 0, result.stderr
    assert f"deleted {LIN} (1 samples, 2 sightings)" in result.stderr
    history = History.open(registry / "history.sqlite")
    assert history.count(name=LIN) == 0 and history.count() == 19
    assert all(history.face(i) is None for i in lin)
    history.close()
    with sqlite3.connect(registry / "history.sqlite") as db:
        assert db.execute("SELECT count(*) FROM faces").fetchone() == (19,)
    for file in registry.glob("history.sqlite*"):  # no trace in the file's free pages or its log either
        assert LIN.encode() not in file.read_bytes(), file
    result = facecam("history", "--name", LIN, "--json", "--registry", registry)
    assert result.returncode == 0 and result.stdout == ""


def test_delete_and_rename_follow_into_a_chosen_history(clip_target, people_registry, tmp_path):
    target = clip_target[0]
    registry = copy_registry(people_registry, tmp_path / "registry", history=False)
    result = facecam("rename", LIN, "Lin-Manuel", "--registry", registry, "--history", target)
    assert result.returncode == 0 and f"renamed {LIN} to Lin-Manuel (2 sightings)" in result.stderr, result.stderr
    result = facecam("delete", "Lin-Manuel", "--yes", "--registry", registry, "--history", target)
    assert result.returncode == 0 and "deleted Lin-Manuel (1 samples, 2 sightings)" in result.stderr, result.stderr
    history = History.open(target)
    assert (history.count(), history.count(name="Lin-Manuel"), history.count(name=LIN)) == (19, 0, 0)
    history.close()


def test_retention_prunes_old_sightings(clip, people_registry, target):
    now = time.time()
    store_all(target, [record("k1", None, now - 40 * 86400, now - 40 * 86400 + 5),
                       record("k2", None, now - 20 * 86400, now - 20 * 86400 + 5),
                       record("k3", LIN, now - 40 * 86400, now - 40 * 86400 + 5),
                       record("k4", LIN, now - 3 * 86400, now - 3 * 86400 + 5)])
    # the default: unknown faces kept 30 days, people until --retention says otherwise
    run_recognize(clip, people_registry, target, "--max-frames", "3")
    history = History.open(target)
    old = [r for r in history.sightings() if r["started_at"] < now - 86400]
    assert sorted((r["name"] or "", round((now - r["started_at"]) / 86400)) for r in old) == [("", 20), (LIN, 3), (LIN, 40)]
    run_recognize(clip, people_registry, target, "--max-frames", "3", "--retention", "2", "--retention-unknown", "10")
    assert [r for r in history.sightings() if r["started_at"] < now - 86400] == []
    history.close()
    result = facecam("history", "prune", "--before", "now", "--unknown", "--history", target)
    # each three-frame run saw the man at the piano, unknown (counted from his third frame)
    assert result.returncode == 0 and "deleted 2 unknown sightings" in result.stderr


def recognize_until(clip, registry, target, sightings: int, sig):
    """Start recognize on the clip, send `sig` once it reported `sightings` stored; returns
    (exit code, the sightings it reported)."""
    process = subprocess.Popen([sys.executable, "-m", "facecam", "recognize", "--source", str(clip), "--registry",
                                str(registry), "--headless", "--json", "--history", str(target)],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    stored = []
    try:
        for line in process.stdout:
            if line.startswith('{"sighting"'):
                stored.append(json.loads(line)["sighting"])
                if len(stored) == sightings:
                    process.send_signal(sig)
    finally:
        process.wait(timeout=60)
    return process.returncode, stored


def test_a_killed_recognize_leaves_a_readable_history(clip, people_registry, target):
    """SIGKILL once five sightings were reported stored: all reported are in the history as they were
    reported, and a SQLite file passes its integrity check."""
    code, stored = recognize_until(clip, people_registry, target, 5, signal.SIGKILL)
    assert code == -signal.SIGKILL and len(stored) >= 5
    if "://" not in target:
        with sqlite3.connect(target) as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    history = History.open(target)
    kept = {r["id"]: r for r in history.sightings()}
    assert all(kept[s["id"]]["frames"] == s["frames"] and kept[s["id"]]["closed"] for s in stored)
    history.close()


def test_ctrl_c_ends_and_stores_the_sightings_in_progress(clip, people_registry, target):
    """Ctrl-C (SIGINT) after five sightings: exit 130, and every sighting, those still going when
    it came included, is stored closed and reported."""
    code, stored = recognize_until(clip, people_registry, target, 5, signal.SIGINT)
    assert code == 130 and len(stored) > 5
    history = History.open(target)
    rows = history.sightings()
    assert sorted(r["id"] for r in rows) == sorted(s["id"] for s in stored) and all(r["closed"] for r in rows)
    history.close()


def test_the_database_going_away_mid_run_loses_nothing(clip, people_registry, postgres):
    """PostgreSQL stops a second into the run and comes back 3 s later: recognition goes on, the
    sightings wait in memory, and all 21 are stored in the end."""
    target = postgres.new_database()
    process = subprocess.Popen([sys.executable, "-m", "facecam", "recognize", "--source", str(clip), "--registry",
                                str(people_registry), "--headless", "--json", "--history", target],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in process.stdout:
            if line.startswith('{"sighting"'):
                break
        postgres.stop()
        time.sleep(3)
        postgres.start()
        out, err = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 0, err
    summary = json.loads(out.splitlines()[-1])["summary"]
    assert summary["frames"] == 275 and summary["history"]["sightings"] == 21 and summary["history"]["unsaved"] == 0
    assert "sightings are kept in memory" in err and "writing again" in err
    history = History.open(target)
    assert history.count() == 21 and history.count(name=LIN) == 2
    history.close()


# --- the commands that read it


def test_history_and_report_commands(tmp_path):
    target = str(tmp_path / "history.sqlite")
    day = local(2026, 11, 2)
    jpeg = cv2.imencode(".jpg", np.full((224, 224, 3), 128, np.uint8))[1].tobytes()
    face = Face(jpeg, np.zeros((5, 2), np.float32), np.zeros(128, np.float32), "sface")
    ids = store_all(target, [record("k1", "Alice", day + 8 * 3600, day + 8 * 3600 + 600, face=face),
                             record("k2", None, day + 9 * 3600, day + 9 * 3600 + 60),
                             record("k3", "Bob", day + 86400 + 3600, day + 86400 + 3660, source="desk")])
    result = facecam("history", "--json", "--history", target)
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["id"] for r in rows] == [ids["k3"], ids["k2"], ids["k1"]]
    assert set(rows[0]) == {"id", "source", "track_id", "name", "start", "end", "start_s", "end_s", "frames",
                            "best_score", "closed", "live"}
    assert rows[2]["start"] == printed_time(day + 8 * 3600) and rows[2]["end_s"] is None
    result = facecam("history", "--csv", "--unknown", "--history", target)
    assert result.stdout.splitlines()[0].startswith("id,source,track_id,name,start,end")
    assert len(result.stdout.splitlines()) == 2
    result = facecam("history", "--history", target, "--since", "2026-11-03")
    assert "Bob" in result.stdout and "Alice" not in result.stdout
    result = facecam("report", "attendance", "--day", "2026-11-02", "--json", "--history", target)
    assert [json.loads(line)["name"] for line in result.stdout.splitlines()] == ["Alice"]
    result = facecam("report", "attendance", "--since", "2026-11-01", "--until", "2026-11-04",
                     "--csv", tmp_path / "a.csv", "--history", target)
    assert result.returncode == 0, result.stderr
    lines = (tmp_path / "a.csv").read_text().splitlines()
    assert lines[0] == "name,day,first_seen,last_seen,present_s,sightings,sources" and len(lines) == 3
    assert lines[1].startswith("Alice,2026-11-02,") and ",600.0,1,door" in lines[1]
    assert_one_line_error(facecam("report", "attendance", "--day", "monday", "--history", target), 2, "is not a day")


# --- the recorder, on made-up tracks


class Collect:
    """Stands in for the Writer: keeps what the recorder hands over."""

    def __init__(self):
        self.records = []

    def put(self, record):
        self.records.append(record)


def track(track_id, name, score, side, vector=None):
    from facecam.tracking import Track
    from facecam.types import Detection

    landmarks = np.array([[30, 40], [70, 40], [50, 60], [35, 80], [65, 80]], np.float32)
    t = Track(track_id, Detection(np.array([0, 0, side, side], np.float32), 0.99, landmarks), 0, 0)
    t.name, t.score, t.vector = name, score, vector
    return t


def test_the_recorder_settles_names_keeps_the_best_face_and_writes_long_sightings(monkeypatch):
    from facecam.history import Recorder
    from facecam.observe import Seen
    from facecam.server import Events
    from facecam.sources import Frame

    writer, events = Collect(), Events()
    recorder = Recorder(writer, source="door", live=False, model="sface")
    starts = events.starts("door", live=False)  # the server's /events feed of sightings starting
    published = []
    events.publish = lambda kind, payload: published.append((kind, payload))
    image = np.zeros((120, 120, 3), np.uint8)
    vector = np.ones(4, np.float32) / 2
    frame = lambda i: Frame(i, i / 10, image)  # noqa: E731

    def update(i, tracks, matched, alive):
        seen = Seen(frame(i), tracks, matched, alive)
        for observer in (recorder, starts):
            observer.update(seen)

    # track 1: unknown for 3 frames (far away), then Alice for 4 frames as it comes closer; embedded
    # on frames 0, 3 and 5, the largest face on frame 5
    for i in range(7):
        t = track(1, None if i < 3 else "Alice", 0.5 if i < 3 else 0.9 + i / 100, 40 + 10 * i, vector * (i + 1))
        update(i, [t], [t] if i in (0, 3, 5) else [], [t])
    assert published == [("sighting_started", {"source": "door", "track_id": 1, "name": None,
                                                "start": published[0][1]["start"], "start_s": 0.0})]
    (first,) = writer.records  # handed over at once, so that it has an id from its start
    assert (first.name, first.frames, first.closed) == (None, 1, False) and first.face.crop.shape == (224, 224, 3)
    update(7, [], [], [])  # the tracker dropped it: the sighting ends
    done = writer.records[-1]
    assert len(writer.records) == 2 and done.key == first.key
    assert (done.name, done.frames, done.best_score, done.start_s, done.end_s, done.closed) == ("Alice", 7, 0.96, 0.0, 0.6, True)
    assert np.array_equal(done.face.embedding, vector * 6) and done.face.crop.shape == (224, 224, 3)  # frame 5's
    # a tie between a name and unknown goes to the name; a long sighting is handed over while it goes on
    monkeypatch.setattr(Recorder, "UPDATE_SECONDS", 0.0)
    for i, name in enumerate([None, "Bob"]):
        t = track(2, name, 0.4 if name is None else 0.85, 50, vector)
        update(10 + i, [t], [t], [t])
    assert [(r.name, r.frames, r.closed) for r in writer.records[2:]] == [(None, 1, False), ("Bob", 2, False)]
    assert [(kind, p["track_id"]) for kind, p in published] == [("sighting_started", 1), ("sighting_started", 2)]
    assert writer.records[2].face is not None and writer.records[3].face is None  # the face once, until a better one
    recorder.close()
    assert (writer.records[-1].name, writer.records[-1].closed, writer.records[-1].key) == ("Bob", True, writer.records[2].key)

"""`facecam serve` over real HTTP: a server process on a free localhost port, real photos."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx
import pytest

from helpers import AUTH, CLIP, TOKEN, assert_one_line_error, copy_registry, facecam, start_server, stop, wait_until
from services import free_port

@pytest.fixture(scope="module")
def server(tmp_path_factory, data):
    """A server with a live source: the clip's first 24 frames at 4 frames/s, read in real time,
    so the stream goes on beside the requests without taking the CPU they are timed on."""
    import cv2

    tmp = tmp_path_factory.mktemp("serve")
    clip = tmp / "slow_clip.mp4"
    video = cv2.VideoCapture(str(data / CLIP))
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 4, (640, 360))
    for _ in range(24):
        writer.write(video.read()[1])
    writer.release()
    video.release()
    proc, url = start_server(tmp, "--registry", tmp / "registry", "--source", clip, "--realtime", "--loop")
    yield url, tmp / "registry"
    stop(proc)


def photo(data, *parts):
    path = data.joinpath("face_recognition_examples/examples/knn_examples", *parts)
    return (path.name, path.read_bytes(), "image/jpeg")


def test_enrol_recognise_list_rename_delete(server, data):
    url, registry = server
    assert httpx.get(f"{url}/health").json()["people"] == 0
    # nobody enrolled yet (no registry on disk): a name is unknown, not a server error
    assert httpx.patch(f"{url}/identities/Nobody", json={"name": "X"}, headers=AUTH).status_code == 404
    assert httpx.delete(f"{url}/identities/Nobody", headers=AUTH).status_code == 404
    # enrol obama from two photos, biden from two; a photo with two faces is skipped and named
    r = httpx.post(f"{url}/identities/Barack Obama/samples", headers=AUTH, timeout=60,
                   files=[("images", photo(data, "train/obama/obama.jpg")), ("images", photo(data, "train/obama/obama2.jpg")),
                          ("images", photo(data, "test/obama_and_biden.jpg"))])
    assert r.status_code == 201, r.text
    assert r.json() == {"name": "Barack Obama", "added": 2, "total": 2,
                        "skipped": [{"file": "obama_and_biden.jpg", "reason": "3 faces, none clearly the largest"}]}
    r = httpx.post(f"{url}/identities/Joe Biden/samples", headers=AUTH, timeout=60,
                   files=[("images", photo(data, "train/biden/biden.jpg")), ("images", photo(data, "train/biden/biden2.jpg"))])
    assert r.status_code == 201 and r.json()["total"] == 2, r.text
    # obama's face under another name is refused (409) unless force
    r = httpx.post(f"{url}/identities/Someone/samples", headers=AUTH, timeout=60,
                   files=[("images", photo(data, "test/obama1.jpg"))])
    assert r.status_code == 409 and "matches 'Barack Obama'" in r.json()["detail"]
    # how to proceed is worded as the request's own parameter, not as a command-line flag
    assert r.json()["detail"].endswith("nothing saved (force=true enrols anyway)")
    assert r.json()["remedies"] == [{"does": "enrols anyway", "parameter": "force", "value": "true"}]
    # recognise: the photo with three faces (obama, biden and a third person)
    r = httpx.post(f"{url}/recognize", files={"image": photo(data, "test/obama_and_biden.jpg")}, headers=AUTH, timeout=60)
    assert r.status_code == 200, r.text
    body = r.json()
    faces = sorted(body["faces"], key=lambda f: f["box"][0])
    assert (body["width"], body["height"], body["threshold"]) == (2000, 1428, 0.8)
    assert [f["name"] for f in faces] == EXPECTED_NAMES
    assert all(f["score"] >= 0.8 for f in faces if f["name"]) and all(f["score"] < 0.8 for f in faces if not f["name"])
    # list, rename, delete
    people = httpx.get(f"{url}/identities", headers=AUTH).json()
    assert [(p["name"], p["samples"], p["model"]) for p in people] == [("Barack Obama", 2, "sface"), ("Joe Biden", 2, "sface")]
    r = httpx.patch(f"{url}/identities/Joe Biden", json={"name": "Joseph Biden"}, headers=AUTH)
    assert r.status_code == 200 and r.json()["name"] == "Joseph Biden"
    assert httpx.patch(f"{url}/identities/Barack Obama", json={"name": "Joseph Biden"}, headers=AUTH).status_code == 409
    assert httpx.patch(f"{url}/identities/Nobody", json={"name": "X"}, headers=AUTH).status_code == 404
    r = httpx.delete(f"{url}/identities/Joseph Biden", headers=AUTH)
    assert r.status_code == 200 and r.json() == {"name": "Joseph Biden", "samples": 2, "sightings": 0}  # not in the clip
    assert httpx.delete(f"{url}/identities/Joseph Biden", headers=AUTH).status_code == 404
    # the CLI sees what the server wrote, and writes beside it: the server sees that at once
    listing = facecam("list", "--json", "--registry", registry)
    assert '"name":"Barack Obama"' in listing.stdout and "Biden" not in listing.stdout
    assert httpx.get(f"{url}/health").json()["people"] == 1
    kit = data / "face_recognition_examples/examples/knn_examples/train/kit_harington"
    enrolled = facecam("register", "--name", "Kit Harington", "--from-dir", kit, "--registry", registry)
    assert enrolled.returncode == 0, enrolled.stderr
    assert [p["name"] for p in httpx.get(f"{url}/identities", headers=AUTH).json()] == ["Barack Obama", "Kit Harington"]
    r = httpx.post(f"{url}/recognize", files={"image": photo(data, "test/kit_with_rose.jpg")}, headers=AUTH, timeout=60)
    assert sorted(f["name"] or "-" for f in r.json()["faces"]) == ["-", "Kit Harington"]


EXPECTED_NAMES = ["Joe Biden", "Barack Obama", None]  # left to right; the third man is not enrolled


def test_changes_need_the_token(server, data):
    url, _ = server
    files = [("images", photo(data, "train/biden/biden.jpg"))]
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"}):
        r = httpx.post(f"{url}/identities/X/samples", headers=headers, files=files)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer", r.text
        assert httpx.delete(f"{url}/identities/X", headers=headers).status_code == 401
        assert httpx.patch(f"{url}/identities/X", json={"name": "Y"}, headers=headers).status_code == 401
        # with a token, reading names and faces needs it too; health stays open
        assert httpx.get(f"{url}/identities", headers=headers).status_code == 401
        assert httpx.post(f"{url}/recognize", files={"image": files[0][1]}, headers=headers).status_code == 401
        assert httpx.get(f"{url}/stream", headers=headers).status_code == 401
    assert httpx.get(f"{url}/health").status_code == 200


def test_bad_uploads_are_4xx_json(server, tmp_path):
    url, _ = server
    cases = [({"image": ("notes.txt", b"hello", "text/plain")}, 415),
             ({"image": ("empty.jpg", b"", "image/jpeg")}, 415),
             ({"image": ("cut.jpg", open(__file__, "rb").read()[:100], "image/jpeg")}, 415),
             ({"other": ("a.jpg", b"x", "image/jpeg")}, 422)]
    for files, status in cases:
        r = httpx.post(f"{url}/recognize", files=files, headers=AUTH)
        assert r.status_code == status and "detail" in r.json(), (files, r.text)
    assert httpx.post(f"{url}/recognize", content=b"raw", headers={**AUTH, "Content-Type": "image/jpeg"}).status_code == 422
    big = b"\xff\xd8" + b"0" * 10_000_001
    r = httpx.post(f"{url}/recognize", files={"image": ("big.jpg", big, "image/jpeg")}, headers=AUTH, timeout=60)
    assert r.status_code == 413 and "larger than 10000000 bytes" in r.json()["detail"]
    r = httpx.post(f"{url}/identities/ bad/samples", headers=AUTH, files={"images": ("a.jpg", b"x", "image/jpeg")})
    assert r.status_code == 400 and "invalid name" in r.json()["detail"]


def test_stream_serves_annotated_jpeg_frames(server):
    url, _ = server
    with httpx.stream("GET", f"{url}/stream", headers=AUTH, timeout=60) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("multipart/x-mixed-replace")
        data = b""
        for chunk in r.iter_bytes():
            data += chunk
            if data.count(b"--frame") >= 3:
                break
    import cv2
    import numpy as np

    part = data.split(b"--frame")[1]
    jpeg = part.split(b"\r\n\r\n", 1)[1].rsplit(b"\r\n", 1)[0]
    frame = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert frame.shape == (360, 640, 3)


def test_requests_are_served_concurrently_by_one_model(server, data):
    """Eight recognitions at once, all answered alike by the one model the server loaded."""
    import concurrent.futures

    url, _ = server
    body = photo(data, "test/obama1.jpg")
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: httpx.post(f"{url}/recognize", files={"image": body}, headers=AUTH, timeout=120), range(8)))
    assert [r.status_code for r in results] == [200] * 8
    assert len({r.text for r in results}) == 1  # the same answer every time


def test_start_refusals(tmp_path):
    def serve(*args):
        return facecam("serve", *args, env={"FACECAM_TOKEN": ""})

    assert_one_line_error(serve("--host", "0.0.0.0", "--registry", str(tmp_path)), 2, "needs FACECAM_TOKEN")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        assert_one_line_error(serve("--port", str(busy.getsockname()[1]), "--registry", str(tmp_path)), 1,
                              "cannot listen on 127.0.0.1")
    assert_one_line_error(serve("--source", str(tmp_path / "none.mp4"), "--port", str(free_port()),
                                "--registry", str(tmp_path)), 1, "no such file or folder")


def test_read_only_without_a_token(tmp_path, data):
    proc, url = start_server(tmp_path, "--registry", tmp_path / "registry", token=None)
    try:
        r = httpx.post(f"{url}/identities/X/samples", headers=AUTH, files=[("images", photo(data, "train/biden/biden.jpg"))])
        assert r.status_code == 403 and "read-only" in r.json()["detail"]
        assert httpx.get(f"{url}/health").json()["writable"] is False
        assert httpx.get(f"{url}/stream").status_code == 404
    finally:
        stop(proc)


def test_schema_fuzzing_finds_no_server_error(server, tmp_path):
    """schemathesis generates requests from the OpenAPI schema, with and without the token (the
    two runs at once: each spends most of its time waiting for answers)."""
    url, _ = server
    runs = []
    for name, headers in (("open", []), ("token", ["-H", f"Authorization: Bearer {TOKEN}"])):
        (tmp_path / name).mkdir()  # each run keeps its own files
        runs.append(subprocess.Popen([sys.executable, "-m", "schemathesis.cli", "run", f"{url}/openapi.json",
                                      "--checks", "not_a_server_error", "--max-examples", "25",
                                      "--exclude-path-regex", "^/(stream|events)", *headers],  # endless responses
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path / name))
    for run in runs:
        out, _ = run.communicate(timeout=900)
        assert run.returncode == 0, out[-3000:]


def test_sightings_attendance_and_live_events(tmp_path, data):
    """serve on the Hamilton clip with Lin-Manuel Miranda enrolled: /events announces his sightings
    as they start and end (the same two the CLI records: 20 and 129 frames), /sightings lists them
    page by page with their faces, /attendance sums them, all behind the token; deleting him
    erases his sightings, and none is written after (the stream is still running)."""
    import json
    import shutil

    import cv2
    import numpy as np

    lin = "Lin-Manuel Miranda"
    people = tmp_path / "people" / lin
    people.mkdir(parents=True)
    (people / "lin.png").symlink_to(data / "face_recognition_examples/examples/lin-manuel-miranda.png")
    registry = tmp_path / "registry"
    assert facecam("register", "--from-dir", tmp_path / "people", "--by-folder", "--registry", registry).returncode == 0
    clip = data / "face_recognition_examples/examples/short_hamilton_clip.mp4"
    proc, url = start_server(tmp_path, "--registry", registry, "--source", clip, "--loop")
    try:
        for path in ("/sightings", "/attendance", "/events", "/sightings/1/face"):
            assert httpx.get(f"{url}{path}").status_code == 401
        seen: list[tuple[str, dict]] = []  # (kind, event) as they came
        with httpx.stream("GET", f"{url}/events", headers=AUTH, timeout=120) as r:
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
            kind = None
            for line in r.iter_lines():
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: "):
                    seen.append((kind, json.loads(line[6:])))
                    kinds = [k for k, _ in seen]
                    ended = [e for k, e in seen if k == "sighting_ended" and e["name"] == lin]
                    # his two sightings ended, he left at the clip's end, and arrived as it replays
                    if len(ended) >= 2 and "left" in kinds and "arrived" in kinds[kinds.index("left"):]:
                        break
        ended = [e for k, e in seen if k == "sighting_ended"]
        started = [e for k, e in seen if k == "sighting_started"]
        presence = [(k, e["name"]) for k, e in seen if k in ("arrived", "left")]
        assert presence[-2:] == [("left", lin), ("arrived", lin)] and len(presence) <= 3
        # the replay (--loop) stores no unknown face again: the first pass's 19 only (Alex at the
        # piano, unknown from his third frame, would be a 20th at once)
        time.sleep(2)
        unknown = httpx.get(f"{url}/sightings", params={"unknown": True, "limit": 1000}, headers=AUTH).json()["sightings"]
        assert len(unknown) == 19
        mine = [e for e in ended if e["name"] == lin][:2]
        assert [(e["frames"], e["start_s"], e["end_s"]) for e in mine] == [(20, 0.0, 0.634), (129, 2.736, 7.007)]
        assert all(e["source"] == str(clip) and e["closed"] for e in ended)
        assert started and set(started[0]) == {"source", "track_id", "name", "start", "start_s"}

        page = httpx.get(f"{url}/sightings", params={"name": lin, "limit": 1}, headers=AUTH).json()
        assert page["next_offset"] == 1 and len(page["sightings"]) == 1
        listed, offset = [], 0
        while offset is not None:
            page = httpx.get(f"{url}/sightings", params={"name": lin, "limit": 1, "offset": offset}, headers=AUTH).json()
            listed += page["sightings"]
            offset = page["next_offset"]
        assert {s["id"] for s in mine} <= {s["id"] for s in listed}
        face = httpx.get(f"{url}/sightings/{mine[1]['id']}/face", headers=AUTH)
        assert face.headers["content-type"] == "image/jpeg"
        assert cv2.imdecode(np.frombuffer(face.content, np.uint8), cv2.IMREAD_COLOR).shape == (224, 224, 3)
        assert httpx.get(f"{url}/sightings/999999/face", headers=AUTH).status_code == 404
        assert httpx.get(f"{url}/sightings", params={"since": "soon"}, headers=AUTH).status_code == 400

        (row,) = httpx.get(f"{url}/attendance", headers=AUTH).json()
        assert row["name"] == lin and row["first_seen"] == mine[0]["start"] and row["sightings"] >= 2

        deleted = httpx.delete(f"{url}/identities/{lin}", headers=AUTH).json()
        count = deleted["sightings"]
        assert deleted["samples"] == 1 and count >= 2
        time.sleep(4)  # the stream goes on: whatever it was following of him is not written
        assert httpx.get(f"{url}/sightings", params={"name": lin}, headers=AUTH).json()["sightings"] == []
        assert httpx.get(f"{url}/attendance", headers=AUTH).json() == []
        assert httpx.get(f"{url}/health").json()["history"] is True
    finally:
        stop(proc)
    shutil.rmtree(tmp_path / "people")


def test_a_video_file_is_read_once_unless_looped(people_registry, data):
    """Without --loop the clip plays once: its 21 sightings are stored (his two as recognize finds
    them), /health says the source ended after its 275 frames, and nothing is added later; the
    stream then sends the last frame and ends. (A replay with --loop: the test above.)"""
    registry = copy_registry(people_registry, people_registry.parent / "once")
    proc, url = start_server(registry.parent, "--registry", registry, "--source", data / CLIP)
    try:
        source = lambda: httpx.get(f"{url}/health").json()["source"]  # noqa: E731
        sightings = lambda: httpx.get(f"{url}/sightings", params={"limit": 1000}, headers=AUTH).json()["sightings"]  # noqa: E731
        wait_until(lambda: source()["state"] == "ended", 120, "the clip played to its end", every=0.5)
        rows = sightings()
        time.sleep(3)
        assert source()["frames"] == 275 and len(rows) == 21 and sightings() == rows
        his = sorted((r["frames"], r["start_s"], r["end_s"]) for r in rows if r["name"] == "Lin-Manuel Miranda")
        assert his == [(20, 0.0, 0.634), (129, 2.736, 7.007)]
        stream = httpx.get(f"{url}/stream", headers=AUTH, timeout=30)
        assert stream.status_code == 200 and stream.content.count(b"--frame\r\n") == 1
        assert [(r["name"], r["present_s"]) for r in httpx.get(f"{url}/attendance", headers=AUTH).json()] == [
            ("Lin-Manuel Miranda", pytest.approx(7.007, abs=2e-3))]  # the file's own timeline
    finally:
        stop(proc)

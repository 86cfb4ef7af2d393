"""Input from outside, tried as a hostile user would: crafted exports and registry documents, paths
that try to leave the registry, decompression bombs, FIFOs, control characters in names, huge
bodies against a real server, silent stream peers. Each is a one-line error (or an HTTP 4xx in
JSON), never a crash, a hang or a file touched outside the registry."""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from facecam.errors import UsageError
from facecam.registry import Registry, RegistryError, transaction
from facecam.validate import person_name
from helpers import AUTH, SAMPLES, TOKEN, assert_one_line_error, facecam, facecam_process, start_server, stop

MODEL = {"name": "test-model", "dim": 8, "sha256": "0" * 64}


def unit(rng, n, d=8):
    v = rng.normal(size=(n, d)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def small_registry(path: Path, crops: bool = True) -> None:
    rng = np.random.default_rng(0)
    crop = np.zeros((8, 8, 3), np.uint8)
    with transaction(path, model=MODEL, create=True) as reg:
        reg.add("Alice", unit(rng, 2), [{"source": "a.jpg"}, {"source": "b.jpg"}], [crop, crop] if crops else None)
        reg.add("Bob", unit(rng, 1), [{"source": "c.jpg"}], [crop] if crops else None)


def sface_registry(path: Path) -> None:
    """A registry of the default model (as recognize needs), with one made-up person."""
    from facecam.models import catalog

    entry = catalog.get("sface")
    with transaction(path, model={"name": entry.name, "dim": 128, "sha256": entry.sha256}, create=True) as reg:
        reg.add("Alice", unit(np.random.default_rng(0), 1, 128), [{"source": "a.jpg"}])


def files_under(path: Path) -> set[str]:
    return {str(p.relative_to(path)) for p in path.rglob("*") if p.is_file()}


def referenced(path: Path) -> set[str]:
    """Every file that registry.json or its backup refers to, and the files facecam keeps beside them."""
    out = {"registry.json", "registry.json.lock"} | ({"registry.json.bak"} if (path / "registry.json.bak").exists() else set())
    for name in out & {"registry.json", "registry.json.bak"}:
        doc = json.loads((path / name).read_text())
        out |= {f["name"] for f in doc["files"].values()} | {s["crop"] for s in doc["samples"] if "crop" in s}
    return out


# --- 1. paths and indices from files are never trusted


def write_doc(path: Path, doc: dict, *, fix_checksum: bool) -> None:
    from facecam.registry.document import checksum

    if fix_checksum:
        doc["checksum"] = checksum(doc)
    (path / "registry.json").write_text(json.dumps(doc))


@pytest.mark.parametrize("field,value", [
    ("crop", "../../outside.txt"), ("crop", "/tmp/outside.txt"), ("id", "../../outside"),
    ("files.vectors", "../outside.txt"), ("files.ids", "/etc/passwd"),
])
def test_every_path_field_of_a_registry_document_stays_inside(tmp_path, field, value):
    """A hand-edited registry.json (its checksum even recomputed, as a careful attacker would) that
    points a path outside the registry is refused on load, by `check`, and no delete touches it."""
    registry, outside = tmp_path / "registry", tmp_path / "outside.txt"
    small_registry(registry)
    outside.write_text("keep me")
    doc = json.loads((registry / "registry.json").read_text())
    if field.startswith("files."):
        doc["files"][field.split(".")[1]]["name"] = value
    else:
        doc["samples"][0][field] = value
    write_doc(registry, doc, fix_checksum=True)
    with pytest.raises(RegistryError, match=r"registry.json: (samples\[0\]|files)"):
        Registry.open(registry)
    assert_one_line_error(facecam("registry", "check", "--registry", registry), 1, "registry.json:")
    assert_one_line_error(facecam("delete", "Alice", "--yes", "--registry", registry), 1, "registry.json:")
    assert outside.read_text() == "keep me"


def test_a_hand_edited_name_is_named_like_a_damaged_array(tmp_path):
    registry = tmp_path / "registry"
    small_registry(registry)
    with transaction(registry) as reg:
        reg.rename("Bob", "Carl")
    index = registry / "registry.json"
    index.write_text(index.read_text().replace('"Alice"', '"Alicf"'))  # one flipped letter
    assert_one_line_error(facecam("registry", "check", "--registry", registry), 1,
                          "damaged (its checksum does not match its content) (run 'facecam registry restore'")
    assert facecam("registry", "restore", "--registry", registry).returncode == 0
    assert Registry.open(registry).names() == ["Alice", "Bob"]


def crafted_export(tmp_path: Path, *, ids, samples=None, identities=None) -> Path:
    rng = np.random.default_rng(1)
    identities = identities or [{"name": "Mallory", "created": "2026-01-01T00:00:00+00:00",
                                 "updated": "2026-01-01T00:00:00+00:00"}]
    samples = samples or [{"id": "0" * 32, "time": "2026-01-01T00:00:00+00:00", "source": "x"} for _ in ids]
    doc = {"format": 2, "model": MODEL, "identities": identities, "samples": samples}
    file = tmp_path / "crafted.npz"
    np.savez(file, vectors=unit(rng, len(ids)), ids=np.array(ids, np.int32),
             document=np.frombuffer(json.dumps(doc).encode(), np.uint8))
    return file


def test_crafted_exports_are_refused_or_imported_with_facecams_own_ids(tmp_path):
    registry, outside = tmp_path / "registry", tmp_path / "outside.txt"
    outside.write_text("keep me")
    small_registry(registry)
    before = files_under(registry)
    for ids, problem in (([0, 5], "sample ids out of range"), ([7, 7], "sample ids out of range"),
                         ([-1], "sample ids out of range")):
        assert_one_line_error(facecam("registry", "import", crafted_export(tmp_path, ids=ids), "--registry", registry),
                              1, problem)
    two = [{"name": "Mallory", "created": "2026-01-01T00:00:00+00:00", "updated": "2026-01-01T00:00:00+00:00"},
           {"name": "Trudy", "created": "2026-01-01T00:00:00+00:00", "updated": "2026-01-01T00:00:00+00:00"}]
    assert_one_line_error(facecam("registry", "import", crafted_export(tmp_path, ids=[0, 0], identities=two),
                                  "--registry", registry), 1, "'Trudy' has no sample")
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 not a zip at all")
    assert_one_line_error(facecam("registry", "import", tmp_path / "junk.npz", "--registry", registry), 1,
                          "not a facecam registry export")
    assert files_under(registry) == before  # nothing imported, nothing written
    # a crop path and an identity field in the file are ignored: facecam makes the ids and paths
    evil = [{"id": "../../outside", "crop": "../../outside.txt", "identity": 99, "time": "2026-01-01T00:00:00+00:00",
             "source": "x"}]
    result = facecam("registry", "import", crafted_export(tmp_path, ids=[0], samples=evil), "--registry", registry)
    assert_one_line_error(result, 1, "samples[0]: unknown field identity")
    evil[0].pop("identity")
    assert_one_line_error(facecam("registry", "import", crafted_export(tmp_path, ids=[0], samples=evil), "--registry",
                                  registry), 1, "samples[0].crop must be crops/")
    evil[0].pop("crop")  # an id in the file is never used: facecam makes its own
    assert facecam("registry", "import", crafted_export(tmp_path, ids=[0], samples=evil), "--registry", registry).returncode == 0
    reg = Registry.open(registry)
    mallory = [s for s in reg.samples if reg.identities[s["identity"]]["name"] == "Mallory"]
    assert len(mallory) == 1 and "crop" not in mallory[0] and mallory[0]["id"] != "../../outside"
    assert facecam("delete", "Mallory", "--yes", "--registry", registry).returncode == 0
    assert outside.read_text() == "keep me"


# --- 2. crashes of the native code


def test_negative_camera_and_absurd_thread_counts_are_usage_errors(tmp_path):
    for command in ("recognize", "register"):
        args = [command, "--camera", "-1", "--registry", tmp_path, "--headless"] + (["--name", "x"] if command == "register" else [])
        assert_one_line_error(facecam(*args), 2, "--camera")
    assert_one_line_error(facecam("serve", "--camera", "-1", "--registry", tmp_path), 2, "--camera")
    from facecam.sources import FrameSource

    with pytest.raises(UsageError, match="invalid camera index '-1'"):
        FrameSource(camera=-1)
    # a process of its own: were the check to fail, OpenMP would abort the process that tried
    result = facecam_process("detect", SAMPLES / "obama_small.jpg", env={"FACECAM_THREADS": "99999"})
    assert_one_line_error(result, 2, "FACECAM_THREADS='99999': must be a whole number from 1 to")


# --- 3. decompression bombs


def png(width: int, height: int, rows: int | None = None) -> bytes:
    """A grayscale PNG claiming width x height; with rows, that many rows of real zero pixels are
    compressed in (streamed, so the test never holds the decoded image)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    compressor, idat = zlib.compressobj(9), b""
    row = b"\x00" * (width + 1)
    for _ in range(rows or 0):
        idat += compressor.compress(row)
    idat += compressor.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


@pytest.fixture(scope="module")
def bombs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bombs")
    (folder / "zeros_30000.png").write_bytes(png(30000, 30000, rows=30000))  # ~0.9 MB, 900 MB decoded
    (folder / "claims_100000.png").write_bytes(png(100000, 100000))  # ~60 bytes, 10 GB decoded
    return folder


def test_bombs_are_refused_from_the_header_and_the_batch_goes_on(bombs, tmp_path):
    assert (bombs / "zeros_30000.png").stat().st_size < 1_000_000
    photos = tmp_path / "photos"
    photos.mkdir()
    for bomb in bombs.iterdir():
        (photos / bomb.name).symlink_to(bomb)
    (photos / "obama.jpg").symlink_to(SAMPLES / "obama_small.jpg")
    start = time.monotonic()
    result = facecam("detect", "--json", photos)
    assert time.monotonic() - start < 60
    assert result.returncode == 1
    errors = sorted(line for line in result.stderr.splitlines() if line.startswith("error:"))
    assert len(errors) == 2 and "Traceback" not in result.stderr
    assert "claims_100000.png: 100000x100000 = 10000.0 megapixels; the limit is 50" in errors[0]
    assert "zeros_30000.png: 30000x30000 = 900.0 megapixels; the limit is 50" in errors[1]
    faces = [json.loads(line) for line in result.stdout.splitlines() if "faces" in line]
    assert [(Path(o["image"]).name, len(o["faces"])) for o in faces] == [("obama.jpg", 1)]
    # a folder enrolment skips them and names them
    enrol = facecam("register", "--name", "Obama", "--from-dir", photos, "--registry", tmp_path / "reg", "--json")
    assert enrol.returncode == 0, enrol.stderr
    summary = json.loads(enrol.stdout)
    assert summary["enrolled"] == {"Obama": {"added": 1, "total": 1}}
    assert sorted((Path(s["image"]).name, s["reason"].split(";")[0]) for s in summary["skipped"]) == [
        ("claims_100000.png", "100000x100000 = 10000.0 megapixels"), ("zeros_30000.png", "30000x30000 = 900.0 megapixels")]
    # the limit is the user's to change
    smaller = facecam("detect", SAMPLES / "obama_small.jpg", env={"FACECAM_MAX_PIXELS": "1000"})
    assert_one_line_error(smaller, 1, "obama_small.jpg: 320x240 = 0.1 megapixels; the limit is 0.001")


# --- 4. FIFOs


def test_a_fifo_is_refused_at_once_as_an_image_or_a_source(tmp_path):
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    start = time.monotonic()
    assert_one_line_error(facecam("detect", fifo), 1, "pipe.jpg: not a regular file; an image must be a file")
    sface_registry(tmp_path / "registry")
    assert_one_line_error(facecam("recognize", "--source", fifo, "--registry", tmp_path / "registry", "--headless"), 1,
                          "pipe.jpg: not a video file, a folder of images or a device")
    assert time.monotonic() - start < 60


# --- 6. names


@pytest.mark.parametrize("name,problem", [
    ("Eve\x1b]0;owned\x07", "control, invisible or special space characters are not allowed (U+001B)"),
    ("Obama\u200b", "(U+200B)"), ("Bell\x07", "(U+0007)"), ("two\nlines", "(U+000A)"), ("nul\x00", "(U+0000)"),
    ("tab\there", "(U+0009)"), ("x" * 10_000, "10000 characters; at most 100"), (" padded", "no leading or trailing"),
])
def test_names_follow_one_rule(name, problem):
    with pytest.raises(UsageError) as err:
        person_name(name)
    message = str(err.value)
    assert problem in message and len(message) < 200 and "\x1b" not in message and "\x07" not in message


def test_names_are_normalised_so_lookalikes_are_one_name():
    assert person_name("Jose\u0301") == "Jos\u00e9"  # NFD and NFC spellings are the same person
    assert person_name("Zoë Tan") == "Zoë Tan"


def test_hostile_names_over_the_cli_and_the_terminal_stays_clean(tmp_path):
    registry = tmp_path / "registry"
    small_registry(registry, crops=False)
    result = facecam("rename", "Alice", "Eve\x1b]0;owned\x07", "--registry", registry)
    assert_one_line_error(result, 2, r"invalid name 'Eve\x1b]0;owned\x07'")
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr
    long = facecam("rename", "Alice", "y" * 10_000, "--registry", registry)
    assert_one_line_error(long, 2, "10000 characters; at most 100") and len(long.stderr) < 300
    unknown = facecam("delete", "\x1b[2J" + "z" * 500, "--yes", "--registry", registry)
    assert_one_line_error(unknown, 2, "no one named") and "\x1b" not in unknown.stderr and len(unknown.stderr) < 300
    listed = facecam("list", "--registry", registry)
    assert "\x1b" not in listed.stdout and "Alice" in listed.stdout
    # rich markup in a name is shown as typed, never interpreted
    assert facecam("rename", "Bob", "Bob [bold]x[/]", "--registry", registry).returncode == 0
    assert "Bob [bold]x[/]" in facecam("list", "--registry", registry).stdout


# --- 7. registry documents of the wrong shape


@pytest.mark.parametrize("mutate,problem", [
    (lambda d: d.update(identities=[1, 2]), "identities[0] must be an object"),
    (lambda d: d["identities"][0].pop("name"), "identities[0]: missing name"),
    (lambda d: d["identities"][0].update(created=5), "identities[0].created must be an ISO 8601 time"),
    (lambda d: d.update(generation="abc"), "generation must be a whole number"),
    (lambda d: d.update(generation=float("nan")), "generation must be a whole number"),
    (lambda d: d.update(generation=-3), "generation must be a whole number"),
    (lambda d: d.update(generation=10**40), "generation must be a whole number"),
    (lambda d: d["identities"][1].update(name="Alice"), "identities[1].name is a duplicate"),
    (lambda d: d["samples"][0].update(quality=float("inf")), "samples[0].quality must be a finite number"),
])
def test_malformed_documents_are_one_line_errors(tmp_path, mutate, problem):
    registry = tmp_path / "registry"
    small_registry(registry, crops=False)
    doc = json.loads((registry / "registry.json").read_text())
    mutate(doc)
    (registry / "registry.json").write_text(json.dumps(doc))  # the checksum is not fixed: also caught
    assert_one_line_error(facecam("registry", "check", "--registry", registry), 1, "registry.json: ")
    doc.pop("checksum", None)
    doc["format"] = 1  # a format-1 document has no checksum: the schema alone must catch it
    (registry / "registry.json").write_text(json.dumps(doc))
    assert_one_line_error(facecam("registry", "check", "--registry", registry), 1, problem)
    assert_one_line_error(facecam("list", "--registry", registry), 1, problem)


@pytest.mark.parametrize("top", ["[]", '"registry"', "42", "null", "[" * 100_000 + "]" * 100_000])
def test_documents_that_are_not_objects(tmp_path, top):
    registry = tmp_path / "registry"
    small_registry(registry, crops=False)
    (registry / "registry.json").write_text(top)
    assert_one_line_error(facecam("registry", "check", "--registry", registry), 1, "registry.json: ")


def test_arrays_that_do_not_fit_their_document(tmp_path):
    """NaN vectors, float ids, rows of an identity that has none: named, with their checksums right."""
    import hashlib
    import io

    registry = tmp_path / "registry"
    small_registry(registry, crops=False)
    doc = json.loads((registry / "registry.json").read_text())
    vectors = np.load(registry / doc["files"]["vectors"]["name"])
    originals = {f["name"]: (registry / f["name"]).read_bytes() for f in doc["files"].values()}
    for key, array, problem in (("vectors", np.full_like(vectors, np.nan), "vectors are not finite"),
                                ("ids", np.array([0.0, 0.0, 1.0]), "the arrays do not match"),
                                ("ids", np.array([0, 0, 0], np.int32), "someone enrolled has no sample")):
        fresh = json.loads(json.dumps(doc))
        for name, data in originals.items():
            (registry / name).write_bytes(data)
        buffer = io.BytesIO()
        np.save(buffer, array)
        (registry / fresh["files"][key]["name"]).write_bytes(buffer.getvalue())
        fresh["files"][key]["sha256"] = hashlib.sha256(buffer.getvalue()).hexdigest()
        write_doc(registry, fresh, fix_checksum=True)
        assert_one_line_error(facecam("registry", "check", "--registry", registry), 1, problem)


VALID = None


def valid_document(tmp_path_factory) -> tuple[Path, dict]:
    global VALID
    if VALID is None:
        registry = tmp_path_factory.mktemp("valid")
        small_registry(registry, crops=True)
        VALID = registry, json.loads((registry / "registry.json").read_text())
    return VALID


# no subnormal floats: the models set torch.set_flush_denormal(True), which Hypothesis refuses to generate under
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_subnormal=False) | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                           max_leaves=12)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.lists(st.sampled_from(["identities", "samples", "files", "model", 0, 1, "name", "crop", "id", "dim",
                                      "vectors", "sha256", "landmarks", "time", "generation", "format"]), max_size=4),
       value=json_values, fix=st.booleans())
def test_generated_documents_load_or_give_a_registry_error(tmp_path_factory, path, value, fix):
    """Any value put anywhere in a valid document: it loads, or a RegistryError says why; never
    another exception."""
    from facecam.registry.document import checksum

    registry, doc = valid_document(tmp_path_factory)
    doc = json.loads(json.dumps(doc))
    node = doc
    for key in path[:-1]:
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            break
    try:
        node[path[-1] if path else "extra"] = value
    except (TypeError, IndexError):
        pass
    if fix:
        try:
            doc["checksum"] = checksum(doc)
        except (ValueError, TypeError):
            pass
    text = json.dumps(doc)
    scratch = tmp_path_factory.mktemp("gen")
    for file in registry.iterdir():
        if file.is_file():
            (scratch / file.name).write_bytes(file.read_bytes())
    (scratch / "registry.json").write_text(text)
    try:
        Registry.open(scratch)
    except RegistryError as err:
        assert "\n" not in str(err)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=120) | st.integers() | st.none())
def test_generated_names_are_accepted_or_refused_in_one_line(name):
    try:
        normal = person_name(name)
    except UsageError as err:
        assert "\n" not in str(err) and len(str(err)) < 250
    else:
        assert normal == person_name(normal) and normal.isprintable() and 1 <= len(normal) <= 100


# --- 8. orphaned crops and arrays


KILLED_WRITER = """
import sys, numpy as np
from facecam.registry import transaction
rng = np.random.default_rng(0)
crop = np.zeros((224, 224, 3), np.uint8)
for k in range(10_000):
    v = rng.normal(size=(40, 512)).astype(np.float32)
    with transaction(sys.argv[1], model={"name": "m", "dim": 512, "sha256": "0" * 64}, create=True) as reg:
        reg.add(f"p{k}", v / np.linalg.norm(v, axis=1, keepdims=True), [{"source": "x"}] * 40, [crop] * 40)
    print(k, flush=True)
"""


def test_no_file_is_left_that_the_registry_does_not_refer_to(tmp_path, monkeypatch):
    """After SIGKILLs mid-save, a failed save and a full disk, the next save leaves only files that
    registry.json or its backup refer to: no crop of an uncommitted save stays on disk."""
    import errno

    from facecam import storage

    registry = tmp_path / "registry"
    for attempt in range(5):
        proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(registry)], stdout=subprocess.PIPE, text=True)
        proc.stdout.readline()
        time.sleep(0.1 + 0.07 * attempt)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    crop = np.zeros((8, 8, 3), np.uint8)
    rng = np.random.default_rng(3)
    with pytest.raises(RuntimeError):  # a save that fails after writing its crops
        with transaction(registry, model={"name": "m", "dim": 512, "sha256": "0" * 64}) as reg:
            reg.add("Failed", unit(rng, 2, 512), [{"source": "x"}] * 2, [crop, crop])
            raise RuntimeError("the save fails")
    assert files_under(registry) == referenced(registry)

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(storage.os, "fsync", full)
    with pytest.raises(OSError, match=r"No space left on device.*registry/"):
        with transaction(registry, model={"name": "m", "dim": 512, "sha256": "0" * 64}) as reg:
            reg.add("Full", unit(rng, 2, 512), [{"source": "x"}] * 2, [crop, crop])
    monkeypatch.undo()
    assert files_under(registry) == referenced(registry)
    assert "Full" not in Registry.open(registry).names() and "Failed" not in Registry.open(registry).names()


def test_delete_erases_the_person_from_the_backup_too(tmp_path):
    registry = tmp_path / "registry"
    small_registry(registry)
    alice_crops = {s["crop"] for s in Registry.open(registry).samples if s["identity"] == 0}
    assert facecam("delete", "Alice", "--yes", "--registry", registry).returncode == 0
    assert not any((registry / c).exists() for c in alice_crops)
    for name in ("registry.json", "registry.json.bak"):
        assert "Alice" not in (registry / name).read_text()
    assert files_under(registry) == referenced(registry)
    assert facecam("registry", "restore", "--registry", registry).returncode == 0
    assert Registry.open(registry).names() == ["Bob"]  # restore cannot bring back a deleted person


# --- 9. the smaller ones


def test_a_rename_to_the_same_name_writes_nothing(tmp_path):
    registry = tmp_path / "registry"
    small_registry(registry)
    before = {p: p.stat().st_mtime_ns for p in registry.iterdir()}
    result = facecam("rename", "Alice", "Alice", "--registry", registry)
    assert result.returncode == 0 and "unchanged" in result.stderr
    assert {p: p.stat().st_mtime_ns for p in registry.iterdir()} == before


def test_restore_of_no_registry_creates_nothing(tmp_path):
    missing = tmp_path / "nonexistent"
    assert_one_line_error(facecam("registry", "restore", "--registry", missing), 1, "no registry here")
    assert not missing.exists()


def silent_peer():
    """A TCP server that accepts and then says nothing; (its socket, the accepted connections,
    which must stay referenced: a collected connection would close and the client see EOF)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    held = []
    threading.Thread(target=lambda: held.append(server.accept()), daemon=True).start()
    return server, held


def test_a_silent_stream_fails_within_the_timeout_and_says_so(tmp_path):
    """An RTSP and an HTTP peer that accept the connection and say nothing (both at once: each
    test waits out the 10 s timeout)."""
    sface_registry(tmp_path / "registry")
    peers = {scheme: silent_peer() for scheme in ("rtsp", "http")}
    start = time.monotonic()
    runs = {scheme: subprocess.Popen([sys.executable, "-m", "facecam", "recognize", "--source",
                                      f"{scheme}://127.0.0.1:{server.getsockname()[1]}/live", "--registry",
                                      tmp_path / "registry", "--headless"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
            for scheme, (server, _) in peers.items()}
    for scheme, run in runs.items():
        out, err = run.communicate(timeout=60)
        took = time.monotonic() - start
        server, held = peers[scheme]
        server.close()
        assert len(held) == 1, scheme  # facecam did connect
        assert_one_line_error(subprocess.CompletedProcess(run.args, run.returncode, out, err), 1,
                              "the stream could not be opened (no answer within 10 s)")
        assert took < 25


def test_unreadable_photos_in_a_folder_enrolment_are_named(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    (photos / "obama.jpg").symlink_to(SAMPLES / "obama_small.jpg")
    result = facecam("register", "--name", "Obama", "--from-dir", photos, "--registry", tmp_path / "reg", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["skipped"] == [{"image": str(photos / "broken.jpg"), "reason": "not a readable image"}]


def test_urls_of_ipv6_hosts_are_bracketed():
    from facecam.server.policy import url

    assert url("::1", 8000) == "http://[::1]:8000" and url("127.0.0.1", 80) == "http://127.0.0.1:80"


def test_errors_never_surface_as_internal_errors_for_user_input(tmp_path):
    """Inputs users produce, each a one-line error that is not "internal error"."""
    registry = tmp_path / "registry"
    small_registry(registry, crops=False)
    for args in (["detect", tmp_path / "none.jpg"], ["embed", SAMPLES / "obama_small.jpg", "--model", "../../x.onnx"],
                 ["register", "--name", "x", "--from-dir", SAMPLES / "obama_small.jpg"],
                 ["registry", "import", SAMPLES / "obama_small.jpg", "--registry", registry],
                 ["eval", "pairs", "--pairs", SAMPLES / "obama_small.jpg", "--root", tmp_path]):
        result = facecam(*args)
        assert result.returncode in (1, 2) and "internal error" not in result.stderr and "Traceback" not in result.stderr, (args, result.stderr)


# --- 5. the server refuses before it reads


@pytest.fixture(scope="module")
def server(tmp_path_factory):

    tmp = tmp_path_factory.mktemp("hostile-serve")
    proc, url = start_server(tmp, "--registry", tmp / "registry")
    yield url
    stop(proc)


def raw_request(url: str, head: str, body: bytes = b"", timeout: float = 10) -> tuple[int, dict, float]:
    """Send a request head (and maybe part of a body) on a raw socket; (status, JSON, seconds to answer)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        start = time.monotonic()
        s.sendall(head.encode() + b"\r\n" + body)
        data = b""
        while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < int(
                dict(line.split(": ", 1) for line in data.split(b"\r\n\r\n")[0].decode().split("\r\n")[1:]
                     if ": " in line).get("content-length", "0")):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        took = time.monotonic() - start
    status = int(data.split(b" ", 2)[1])
    return status, json.loads(data.split(b"\r\n\r\n", 1)[1]), took


def test_a_change_without_the_token_is_refused_before_its_body_is_read(server):
    """A 50 MB upload announced, not sent: the 401 comes back at once (the server did not wait
    for the body); an announced body over the limit is refused as it arrives (413)."""
    head = ("POST /identities/Eve/samples HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
            f"Content-Length: {50_000_000}\r\n")
    status, body, took = raw_request(server, head)
    assert (status, body["detail"]) == (401, "log in first (or send the bearer token)") and took < 2

    over = head.replace("Host: x", f"Host: x\r\nAuthorization: Bearer {TOKEN}").replace("50000000", "500000000")
    status, body, took = raw_request(server, over)  # 20 images of 10 MB at most
    assert status == 413 and "larger than" in body["detail"] and took < 2
    status, body, _ = raw_request(server, f"POST /recognize HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
                                          "Content-Length: 60000000\r\n")
    assert status == 413


def test_a_streamed_body_over_the_limit_is_cut_off(server):
    """Chunked, with no Content-Length: counted as it arrives, refused once over the limit."""
    import httpx


    def body():
        yield b"--b\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.jpg\"\r\n\r\n"
        for _ in range(200):
            yield b"0" * 100_000
        yield b"\r\n--b--\r\n"

    r = httpx.post(f"{server}/recognize", content=body(), headers={**AUTH, "Content-Type": "multipart/form-data; boundary=b"},
                   timeout=60)
    assert r.status_code == 413 and r.headers["content-type"] == "application/json"


def test_bombs_and_names_over_http(server, bombs):
    import httpx


    for bomb in sorted(bombs.iterdir()):
        start = time.monotonic()
        r = httpx.post(f"{server}/recognize", files={"image": (bomb.name, bomb.read_bytes(), "image/png")}, headers=AUTH,
                       timeout=60)
        assert r.status_code == 413 and "megapixels; the limit is 50" in r.json()["detail"], r.text
        assert time.monotonic() - start < 5
    obama = ("obama.jpg", (SAMPLES / "obama_small.jpg").read_bytes(), "image/jpeg")
    for name in ("Eve%1B%5D0%3Bx%07", "Obama%E2%80%8B", "nul%00"):
        r = httpx.post(f"{server}/identities/{name}/samples", headers=AUTH, files=[("images", obama)], timeout=60)
        assert r.status_code == 400 and "invalid name" in r.json()["detail"], r.text
    r = httpx.post(f"{server}/identities/Barack/samples", headers=AUTH, files=[("images", obama)], timeout=60)
    assert r.status_code == 201
    r = httpx.patch(f"{server}/identities/Barack", headers=AUTH, json={"name": "Eve\u001b[2J"})
    assert r.status_code == 400 and r.headers["content-type"] == "application/json"


def test_docs_work_offline(server):
    import httpx

    page = httpx.get(f"{server}/docs")
    assert page.status_code == 200 and "/docs-assets/swagger-ui-bundle.js" in page.text and "cdn" not in page.text.lower()
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        r = httpx.get(f"{server}/docs-assets/{asset}")
        assert r.status_code == 200 and len(r.content) > 100_000


def test_a_damaged_registry_loses_no_file_to_a_later_command(tmp_path):
    """A hand-edited registry.json is refused; the commands that then fail delete nothing, so a
    restore (or undoing the edit) finds every file."""
    registry = tmp_path / "registry"
    small_registry(registry)
    with transaction(registry) as reg:
        reg.rename("Bob", "Carl")
    index = registry / "registry.json"
    good = index.read_text()
    index.write_text(good.replace('"Carl"', '"Carm"'))
    before = files_under(registry)
    for args in (["delete", "Alice", "--yes"], ["rename", "Alice", "Ann"], ["registry", "check"]):
        assert facecam(*args, "--registry", registry).returncode == 1
    assert files_under(registry) == before
    index.write_text(good)
    assert Registry.open(registry).names() == ["Alice", "Carl"]

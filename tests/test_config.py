"""Deployment files: recognize/serve --config FILE and `facecam config check FILE`."""

from __future__ import annotations

import json

import pytest

from helpers import CLIP, LIN, assert_one_line_error, events_and_summary, facecam

def readme_example(registry, token) -> str:
    """The README's four-camera deployment file, with this test's registry and token file."""
    from pathlib import Path

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    block = readme[readme.index("    # facecam.toml"):readme.index("<!-- -->")]
    text = "\n".join(line[4:] for line in block.splitlines()) + "\n"
    assert '"/var/lib/facecam/registry"' in text and '"/etc/facecam/token"' in text
    return text.replace("/var/lib/facecam/registry", str(registry)).replace("/etc/facecam/token", str(token))


def test_check_says_what_would_run(tmp_path):
    """Nothing opened or loaded: the sources with their own settings or the file's, the disabled
    one named, passwords hidden."""
    path, token = tmp_path / "facecam.toml", tmp_path / "token"
    token.write_text("a-long-random-token\n")
    path.write_text(readme_example(tmp_path / "registry", token))
    result = facecam("config", "check", path, "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "file": str(path), "registry": str(tmp_path / "registry"), "history": "postgresql://facecam:***@db.local/facecam",
        "events": ["mqtt: mqtt://broker.local"], "motion": True, "disabled": ["garage"],
        "sources": [{"name": "front-door", "source": "rtsp://viewer:***@10.0.0.11/stream2", "motion_mask": ["0,0,640,40"],
                     "threshold": 0.85, "away_after": 45},
                    {"name": "back-door", "source": "rtsp://viewer:***@10.0.0.12/stream2", "motion_mask": [],
                     "threshold": None, "away_after": 20},
                    {"name": "reception", "source": "camera 0", "motion_mask": [], "threshold": None, "away_after": 45}]}
    # the file wins over the environment, the command line over the file
    elsewhere = {"FACECAM_MQTT": "mqtt://other.local", "FACECAM_REGISTRY": tmp_path / "other"}
    result = json.loads(facecam("config", "check", path, "--json", env=elsewhere).stdout)
    assert (result["events"], result["registry"]) == (["mqtt: mqtt://broker.local"], str(tmp_path / "registry"))
    said = facecam("config", "check", path)
    assert said.returncode == 0 and "secret" not in said.stdout + said.stderr
    assert f"{path}: 3 sources (garage disabled); registry {tmp_path / 'registry'}" in said.stderr
    rows = [line.split("│")[1].strip() for line in said.stdout.splitlines() if line.startswith("│")]
    assert [name for name in rows if name] == ["front-door", "back-door", "reception"]
    assert "garage" not in said.stdout


@pytest.mark.parametrize("text, line, says", [
    ("treshold = 0.8\n", "line 1: treshold", "not a setting (perhaps threshold, detect_threshold)"),
    ("away-after = 0.5\n", "line 1: away-after", "Input should be greater than or equal to 1"),
    ("registry = 'r'\nthreshold = 'high'\n", "line 2: threshold", "Input should be a valid number"),
    ("camera = 0\n", "line 1: camera", "give sources as [sources.NAME] tables"),
    ("[sources.door]\nurl = 'rtsp://x/y'\nmask = 5\n", "line 3: [sources.door] mask", "a string or a list of strings"),
    ("[sources.door]\nurl = 'rtsp://x/y'\ncamera = 1\n", "line 1: [sources.door]", "needs a url or a camera, one of them"),
    ("[sources.door]\nurl = 'rtsp://x/y'\n\n[sources.desk]\ncamera = 99\n", "line 5: [sources.desk] camera",
     "a camera index from 0 to 63"),
    ("[sources.door]\nurl = 'rtsp://x/y'\nmask = ['1,2,3']\n", "line 3: [sources.door] mask",
     "'1,2,3': neither x1,y1,x2,y2 nor an image file"),
    ("[sources.door]\nurl = 'rtsp://x/y'\nthreshold = 2\n", "line 3: [sources.door] threshold", "a score from 0 to 1"),
    ("[sources.door]\nlink = 'rtsp://x/y'\n", "line 2: [sources.door] link", "not a source's setting"),
    ("registry = \n", "", "not TOML"),
])
def test_a_bad_file_is_one_line_naming_the_line_and_the_key(tmp_path, text, line, says):
    path = tmp_path / "facecam.toml"
    path.write_text(text)
    assert_one_line_error(facecam("config", "check", path), 2, f"{path}{' ' + line if line else ''}: {says}"
                          if line else says)
    assert_one_line_error(facecam("recognize", "--config", path, "--headless"), 2, says)


def test_a_missing_file(tmp_path):
    assert_one_line_error(facecam("serve", "--config", tmp_path / "none.toml"), 2, f"{tmp_path / 'none.toml'}: no such file")


def test_recognize_runs_the_files_sources_and_the_command_line_wins(data, people_registry, tmp_path):
    """Two sources from the file, each under its name with its own threshold; --threshold on the
    command line is taken over the file's; serve's own settings (port) are left to serve."""
    path = tmp_path / "facecam.toml"
    path.write_text(f'registry = "{people_registry}"\nno-history = true\nthreshold = 0.75\nport = 8123\n\n'
                    f'[sources.stage]\nurl = "{data / CLIP}"\nthreshold = 0.9\n\n'
                    f'[sources.piano]\nurl = "{data / CLIP}"\nmask = ["0,0,100,100"]\n\n'
                    f'[sources.off]\ncamera = 5\nenabled = false\n')
    result = facecam("recognize", "--config", path, "--headless", "--json", "--max-frames", 20)
    assert result.returncode == 0, result.stderr
    _, summary = events_and_summary(result.stdout)
    assert [(s["source"], s["threshold"]) for s in summary["sources"]] == [("stage", 0.9), ("piano", 0.75)]
    assert {p["source"] for p in summary["people"] if p["name"] == LIN} == {"stage", "piano"}
    result = facecam("recognize", "--config", path, "--headless", "--json", "--max-frames", 4, "--threshold", 0.7)
    assert [s["threshold"] for s in events_and_summary(result.stdout)[1]["sources"]] == [0.7, 0.7]
    one = facecam("recognize", "--config", path, "--headless", "--json", "--max-frames", 4, "--source", data / CLIP)
    assert "sources" not in events_and_summary(one.stdout)[1]  # --source names the sources: the file's are not used


def test_serve_takes_its_token_from_a_file_the_config_names(tmp_path):
    from helpers import TOKEN, start_server, stop

    (tmp_path / "token").write_text(TOKEN + "\n")
    path = tmp_path / "facecam.toml"
    path.write_text(f'registry = "{tmp_path / "registry"}"\ntoken-file = "{tmp_path / "token"}"\n')
    proc, url = start_server(tmp_path, "--config", path, token=None)
    try:
        import httpx

        assert httpx.get(f"{url}/health").json()["writable"] is True
        assert httpx.get(f"{url}/identities", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        assert httpx.get(f"{url}/identities", headers={"Authorization": "Bearer wrong"}).status_code == 401
    finally:
        stop(proc)
    (tmp_path / "token").write_text("\n")
    assert_one_line_error(facecam("serve", "--config", path), 2, f"--token-file: {tmp_path / 'token'}: empty")

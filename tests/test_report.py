"""The attendance report as HTML, rendered by a real browser (Debian's chromium through
chromium-driver): one file, nothing fetched, each person's row with their best face, and a
printout of one page."""

from __future__ import annotations

import base64
import re
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np

from facecam.align import canonical_crop
from facecam.history import Face, History, Record
from helpers import facecam

SCREENSHOTS = Path(__file__).resolve().parents[1] / "out" / "screenshots"
PEOPLE = ("Abdoulaye_Wade", "Abdullah_Gul", "Abel_Pacheco")


def lfw_face(data, person: str, detector) -> tuple[bytes, np.ndarray]:
    image = cv2.imread(str(data / "recognition" / "lfw" / person / f"{person}_0001.jpg"))
    face = max(detector.detect(image), key=lambda f: f.score)
    crop, landmarks = canonical_crop(image, face.landmarks)
    return cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes(), landmarks


def test_the_html_report_in_a_real_browser(data, detector, browser, tmp_path):
    """Three people of LFW over one day: the rows the browser shows are the figures worked out
    by hand, each row's thumbnail is that person's face (compared pixel by pixel with the crop
    stored), nothing is loaded from anywhere, and the printout is one A4 page."""
    target = tmp_path / "history.sqlite"
    at = lambda h, m: datetime(2026, 11, 2, h, m).timestamp()  # noqa: E731
    names = [p.replace("_", " ") for p in PEOPLE]
    crops = {}
    records = []
    for k, (person, name) in enumerate(zip(PEOPLE, names)):
        jpeg, landmarks = lfw_face(data, person, detector)
        crops[name] = jpeg
        face = Face(jpeg, landmarks, np.zeros(128, np.float32), "sface")
        records.append(Record(key=f"a{k}", source="door", track_id=k, name=name, started_at=at(8 + k, 0),
                              ended_at=at(8 + k, 10), start_s=None, end_s=None, frames=250, best_score=0.93,
                              closed=True, face=face))
    # Abdoulaye Wade comes back at 08:13 (3 min later: the same stretch) until 08:30 on another camera
    records.append(Record(key="b", source="hall", track_id=9, name=names[0], started_at=at(8, 13), ended_at=at(8, 30),
                          start_s=None, end_s=None, frames=400, best_score=0.88, closed=True))
    history = History.open(target, create=True)
    history.write(records, {})
    history.close()
    html = tmp_path / "attendance.html"
    result = facecam("report", "attendance", "--day", "2026-11-02", "--html", html, "--history", target)
    assert result.returncode == 0, result.stderr
    text = html.read_text()
    assert not re.search(r"(src|href)=\"(?!data:)|url\(|<link|<script|@import", text)  # self-contained

    browser.get(html.as_uri())
    rows = [[cell.text for cell in row.find_elements("css selector", "td")][1:]
            for row in browser.find_elements("css selector", "tbody tr")]
    assert rows == [[names[0], "08:00", "08:30", "30 min", "2", "door, hall"],
                    [names[1], "09:00", "09:10", "10 min", "1", "door"],
                    [names[2], "10:00", "10:10", "10 min", "1", "door"]]
    assert browser.find_element("css selector", "h1").text == "Attendance, 2026-11-02"
    loaded = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert all(url.startswith("data:") for url in loaded), loaded

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / "attendance-report.png"
    browser.save_screenshot(str(shot))
    screen = cv2.imread(str(shot))
    thumbnails = browser.find_elements("css selector", "tbody img")
    assert len(thumbnails) == 3
    for thumbnail, name in zip(thumbnails, names):
        r = thumbnail.rect
        x, y, w, h = (int(round(r[k])) for k in ("x", "y", "width", "height"))
        assert (w, h) == (64, 64)
        shown = screen[y + 3 : y + h - 3, x + 3 : x + w - 3].astype(np.float32)  # inside the rounded corners
        differences = {}
        for other, jpeg in crops.items():  # the thumbnail is the middle 60% of the stored crop: the face
            crop = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)[45:179, 45:179]
            expected = cv2.resize(crop, (w, h), interpolation=cv2.INTER_AREA)[3:-3, 3:-3].astype(np.float32)
            differences[other] = float(np.abs(shown - expected).mean())
        assert min(differences, key=differences.get) == name and differences[name] < 8, differences

    pdf = base64.b64decode(browser.print_page())
    assert pdf.startswith(b"%PDF") and len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 1

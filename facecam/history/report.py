"""The attendance report as one self-contained HTML file: inline CSS, each person's best face as
an inline JPEG, no external assets, laid out to print on A4 as well as it shows on screen."""

from __future__ import annotations

import base64
import time
from collections import defaultdict
from html import escape

from ..version import __version__
from .times import duration, from_iso, local_time

STYLE = """
*{box-sizing:border-box}
body{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif;color:#1d2330;margin:2rem auto;max-width:60rem;padding:0 1rem}
h1{font-size:1.6rem;margin:0 0 .2rem}
p.meta{color:#5b6475;margin:0 0 1.5rem}
h2{font-size:1.15rem;margin:1.6rem 0 .5rem;padding-bottom:.25rem;border-bottom:2px solid #2f6fde}
table{border-collapse:collapse;width:100%;font-size:.95rem}
th{text-align:left;font-weight:600;color:#5b6475;border-bottom:1px solid #c9cfdb;padding:.35rem .5rem}
th.num{text-align:right}
td{border-bottom:1px solid #e3e7ee;padding:.35rem .5rem;vertical-align:middle}
td.num{text-align:right;font-variant-numeric:tabular-nums}
td.face{width:72px}
img{width:64px;height:64px;border-radius:6px;display:block}
div.noface{width:64px;height:64px;border-radius:6px;background:#e3e7ee}
p.foot{color:#5b6475;font-size:.8rem;margin-top:2rem}
tr{page-break-inside:avoid}
@media print{body{margin:0;max-width:none}h2{page-break-after:avoid}a{color:inherit}}
@page{size:A4;margin:15mm}
"""


def render_html(rows: list[dict], faces: dict[str, bytes], *, period: str, gap: float) -> str:
    """rows: attendance() rows; faces: name -> JPEG of their best face in the period."""
    by_day = defaultdict(list)
    for row in rows:
        by_day[row["day"]].append(row)
    people = len({r["name"] for r in rows})
    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Attendance, {escape(period)}</title>",
             f"<style>{STYLE}</style></head><body>",
             f"<h1>Attendance, {escape(period)}</h1>",
             f"<p class=\"meta\">{people} {'person' if people == 1 else 'people'} seen on {len(by_day)} "
             f"day{'' if len(by_day) == 1 else 's'}. Times are local; sightings less than {duration(gap)} apart count "
             "as continuous presence.</p>"]
    if not rows:
        parts.append("<p>Nobody enrolled was seen in this period.</p>")
    for day in sorted(by_day):
        parts.append(f"<h2>{escape(day)}</h2><table><thead><tr><th></th><th>Name</th><th class=\"num\">First seen</th>"
                     "<th class=\"num\">Last seen</th><th class=\"num\">Present</th><th class=\"num\">Sightings</th>"
                     "<th>Sources</th></tr></thead><tbody>")
        for r in by_day[day]:
            face = faces.get(r["name"])
            picture = (f"<img alt=\"\" src=\"data:image/jpeg;base64,{base64.b64encode(thumbnail(face)).decode()}\">"
                       if face else "<div class=\"noface\"></div>")
            parts.append(
                f"<tr><td class=\"face\">{picture}</td><td>{escape(r['name'])}</td>"
                f"<td class=\"num\">{local_time(from_iso(r['first_seen']), '%H:%M')}</td>"
                f"<td class=\"num\">{local_time(from_iso(r['last_seen']), '%H:%M')}</td>"
                f"<td class=\"num\">{duration(r['present_s'])}</td><td class=\"num\">{r['sightings']}</td>"
                f"<td>{escape(', '.join(r['sources']))}</td></tr>")
        parts.append("</tbody></table>")
    parts.append(f"<p class=\"foot\">Made by facecam {escape(__version__)} on {local_time(time.time(), '%Y-%m-%d %H:%M')}."
                 " Face pictures are biometric data: keep this file as private as the history it comes from.</p>")
    parts.append("</body></html>\n")
    return "".join(parts)


THUMBNAIL = 128  # pixels: sharp at 64 CSS pixels on a high-density screen and on paper
FACE_SHARE = 0.6  # of the canonical crop's side the face takes: the thumbnail shows that much


def thumbnail(jpeg: bytes) -> bytes:
    """The face itself out of a sighting's canonical crop, as a small JPEG."""
    import cv2
    import numpy as np

    crop = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    if crop is None:
        return jpeg
    side = crop.shape[0]
    margin = int(round(side * (1 - FACE_SHARE) / 2))
    face = cv2.resize(crop[margin : side - margin, margin : side - margin], (THUMBNAIL, THUMBNAIL),
                      interpolation=cv2.INTER_AREA)
    return cv2.imencode(".jpg", face, [cv2.IMWRITE_JPEG_QUALITY, 88])[1].tobytes()


def write_csv(rows: list[dict], file) -> None:
    """Rows of one shape as CSV (a header from the first row's keys; lists joined with ';'); nothing when there are none."""
    import csv

    if not rows:
        return
    writer = csv.DictWriter(file, fieldnames=list(rows[0]))
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ";".join(v) if isinstance(v, list) else v for k, v in row.items()})

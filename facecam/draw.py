"""Overlays drawn on BGR frames (in place)."""

from __future__ import annotations

import functools

import numpy as np

from .types import Detection

BOX = (0, 200, 0)
# left eye, right eye, nose, left mouth, right mouth (as seen in the image)
LANDMARK_COLOURS = ((0, 0, 255), (0, 255, 255), (255, 0, 255), (0, 255, 0), (255, 0, 0))


def detections(image: np.ndarray, faces: list[Detection]) -> np.ndarray:
    """Boxes, scores and the 5 landmarks, scaled to the image size."""
    import cv2

    thick, placed = _thickness(image), []
    for face in faces:
        label_box(image, face.box, f"{face.score:.2f}", BOX, taken=placed)
        for (x, y), colour in zip(face.landmarks, LANDMARK_COLOURS):
            cv2.circle(image, (int(round(x)), int(round(y))), thick + 1, colour, -1, cv2.LINE_AA)
    return image


KNOWN, UNKNOWN = (0, 200, 0), (0, 0, 230)


def _thickness(image: np.ndarray) -> int:
    return max(1, round(max(image.shape[:2]) / 500))


def label_box(image: np.ndarray, box, label: str, colour, top: int = 0, taken: list | None = None) -> tuple:
    """A box with a filled label above it, inside the image and not above `top` (what is drawn
    there already, e.g. the status band). The label is set in a real font sized to the image.
    taken: the labels drawn already, as (x1, y1, x2, y2): this one goes where it overlaps none
    (above the box, else below it, else further up or down), and is added. Returns its place."""
    import cv2

    thick = _thickness(image)
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    cv2.rectangle(image, (x1, y1), (x2, y2), colour, thick, cv2.LINE_AA)
    size = _text_size(image)
    width = int(font(size).getlength(label)) + 6
    height = size + 6
    left = max(0, min(x1, image.shape[1] - width))  # keep the label inside the image
    above = max(top, y1 - height)
    place = (left, above, left + width, above + height)
    if taken:
        tops = [above, y2 + thick] + [t for k in range(1, 8) for t in (y1 - height * (k + 1), y2 + thick + height * k)]
        free = [(left, t, left + width, t + height) for t in tops if top <= t and t + height <= image.shape[0]]
        place = next((p for p in free if not any(_overlap(p, other) for other in taken)), place)
    cv2.rectangle(image, place[:2], place[2:], colour, -1)
    text(image, label, (place[0] + 3, place[1] + 3), size, band=False)
    if taken is not None:
        taken.append(place)
    return place


def _overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _text_size(image: np.ndarray) -> int:
    """Pixels of text for a frame: readable from a metre on a laptop screen at any frame size."""
    return max(13, round(image.shape[0] / 30))


def tracks(image: np.ndarray, visible, top: int = 0, placed: list | None = None) -> np.ndarray:
    """Each track's box with its id, name (or "unknown") and score; labels not above `top` and
    never over one another (placed: gets where each went). The larger faces, nearer the camera,
    are labelled first, so theirs stay right above them."""
    placed = [] if placed is None else placed
    for track in sorted(visible, key=lambda t: -(t.face.box[2] - t.face.box[0])):
        name = track.name or "unknown"
        score = "" if track.score is None else f" {track.score:.2f}"
        label_box(image, track.face.box, f"#{track.id} {name}{score}", KNOWN if track.name else UNKNOWN, top, placed)
    return image


def status(image: np.ndarray, lines: list[str], colour=(255, 255, 255)) -> int:
    """Lines of text at the top left, on a dark band so they read on any frame; returns the
    band's bottom edge."""
    size, y = _text_size(image), 0
    for line in lines:
        box = text(image, line, (6, y + 4), size, colour)
        y = box[3] + 2
    return y


FONTS = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/TTF/DejaVuSans.ttf",
         "/System/Library/Fonts/Supplemental/Arial.ttf", "C:/Windows/Fonts/arial.ttf")


@functools.lru_cache(maxsize=16)
def font(size: int):
    """A real TrueType font of `size` pixels (DejaVu Sans where installed, else Pillow's own)."""
    from PIL import ImageFont

    for path in FONTS:
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            continue
    return ImageFont.load_default(size)


def text(image: np.ndarray, line: str, xy: tuple[int, int], size: int, colour=(255, 255, 255),
         anchor: str = "la", band: bool = True) -> tuple[int, int, int, int]:
    """Draw one line with a real font (in place; a dark band behind it); returns its box."""
    from PIL import Image, ImageDraw

    f = font(max(10, size))
    x0, y0, x1, y1 = ImageDraw.Draw(Image.new("L", (1, 1))).textbbox(xy, line, font=f, anchor=anchor)
    pad = max(3, size // 4)
    x0, y0 = max(0, x0 - pad), max(0, y0 - pad)
    x1, y1 = min(image.shape[1], x1 + pad), min(image.shape[0], y1 + pad)
    if x1 <= x0 or y1 <= y0:
        return x0, y0, x0, y0
    region = image[y0:y1, x0:x1]
    if band:
        region[:] = (region * 0.25).astype(np.uint8)
    canvas = Image.fromarray(region[..., ::-1].copy())
    ImageDraw.Draw(canvas).text((xy[0] - x0, xy[1] - y0), line, font=f, anchor=anchor, fill=colour[::-1])
    region[:] = np.asarray(canvas)[..., ::-1]
    return x0, y0, x1, y1


def tile(images: list[np.ndarray | None], names: list[str], size: tuple[int, int]) -> np.ndarray:
    """The images letterboxed into `size` tiles, named, in a grid of about as many columns as rows."""
    import cv2

    width, height = size
    columns = int(np.ceil(np.sqrt(len(images))))
    rows = int(np.ceil(len(images) / columns))
    grid = np.zeros((rows * height, columns * width, 3), np.uint8)
    for k, (image, name) in enumerate(zip(images, names)):
        y, x = divmod(k, columns)
        cell = grid[y * height:(y + 1) * height, x * width:(x + 1) * width]
        if image is not None:
            scale = min(width / image.shape[1], height / image.shape[0])
            w, h = int(image.shape[1] * scale), int(image.shape[0] * scale)
            top, left = (height - h) // 2, (width - w) // 2
            cell[top:top + h, left:left + w] = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
        text(cell, name if len(name) <= 48 else "…" + name[-47:], (8, height - 8), 18, anchor="lb")
    return grid


def sheet(rows: list[tuple[list[str], list[np.ndarray]]], *, per_row: int, size: int = 112) -> np.ndarray:
    """A contact sheet: per row its label lines on the left (the first larger, the last two
    dimmer) and up to `per_row` face crops beside it, each `size` pixels square."""
    import cv2

    label_width, pad = 300, 6
    height = pad + len(rows) * (size + pad)
    out = np.full((max(height, size), label_width + per_row * (size + pad) + pad, 3), 32, np.uint8)
    styles = ((4, 20, (255, 255, 255)), (34, 15, (255, 255, 255)), (58, 13, (200, 200, 200)), (78, 13, (200, 200, 200)))
    for n, (label, crops) in enumerate(rows):
        y = pad + n * (size + pad)
        for line, (dy, points, colour) in zip(label, styles):
            text(out, line, (pad, y + dy), points, colour, band=False)
        for col, crop in enumerate(crops[:per_row]):
            x = label_width + col * (size + pad)
            out[y:y + size, x:x + size] = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)
    return out


LEFT_OUT = (150, 150, 150)


def left_out(image: np.ndarray, ignored, top: int = 0, placed: list | None = None) -> np.ndarray:
    """The tracks that do not count, in grey with why: not taken for a face yet (found by the
    detector in too few frames); (with liveness checks) not judged live yet, or not live; (with
    the challenge) what to do to be counted, or that it was not done."""
    from .guide import SAY

    placed = [] if placed is None else placed
    for track in ignored:
        if not track.confirmed:
            why = "face?"
        elif track.live is False:
            why = f"not live {track.liveness:.2f}"
        elif track.challenge is not None:
            why = SAY[track.challenge] if track.turned is None else "did not turn as asked"
        else:
            why = "checking liveness"
        label_box(image, track.face.box, f"#{track.id} {why}", LEFT_OUT, top, placed)
    return image

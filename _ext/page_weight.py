"""Keep every built page light: demo frames as image files, shared widget styles, small figures.

A static demo (``helpers.demos.static``) stores every picture it can show inside the page's
widget state, base64-encoded, so a chapter's HTML carried up to 1.4 MB of pictures, and every
picture's widget came with its own copy of the same layout. After the build this extension
rewrites each page that holds widget state:

* each demo picture becomes a file ``_images/frames/<hash>.<png|webp>`` (lossless WebP where
  it is smaller) and the widget points at it (``format="url"``, which ipywidgets' Image view
  supports): no base64 overhead, identical frames shared between pages, cached by the
  browser;
* layout and style models with identical state are merged, and the references follow;

and it stores each figure under ``_images/`` as a palette PNG when that is visually the same
(mean error under two grey levels in 255: no visible change, photos included) and at least
10 % smaller.

Nothing changes in the notebooks: a notebook opened in Jupyter still carries its pictures.
Pages written by an earlier build are already rewritten and are left alone.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
from pathlib import Path

from sphinx.util import logging

STATE_RE = re.compile(
    r'(<script type="application/vnd\.jupyter\.widget-state\+json">)(.*?)(</script>)', re.S
)
MERGEABLE = re.compile(r"(Layout|Style)Model$")
FRAMES = Path("_images") / "frames"


def _smallest_encoding(png: bytes) -> tuple[bytes, str]:
    """Return the picture as lossless WebP when that is smaller than the PNG, else the PNG."""
    from PIL import Image

    picture = Image.open(io.BytesIO(png))
    picture.load()
    mode = "RGBA" if "A" in picture.getbands() or "transparency" in picture.info else "RGB"
    buffer = io.BytesIO()
    picture.convert(mode).save(buffer, format="webp", lossless=True, method=6)
    webp = buffer.getvalue()
    return (webp, "webp") if len(webp) < len(png) else (png, "png")


def _frames_to_files(state: dict, page_dir: Path, outdir: Path, used: set[Path]) -> int:
    """Move base64 pictures of Image widgets into files; return how many were moved.

    Every frame file the page points at, moved now or by an earlier build, goes into ``used``.
    """
    moved = 0
    for model in state.values():
        if model.get("model_name") != "ImageModel":
            continue
        buffers = model.get("buffers") or []
        value = [b for b in buffers if b.get("path") == ["value"]]
        if len(value) != 1 or value[0].get("encoding") != "base64":
            continue
        if model["state"].get("format") == "url":
            url = base64.b64decode(value[0]["data"]).decode()
            used.add((page_dir / url).resolve())
            continue
        data, ext = _smallest_encoding(base64.b64decode(value[0]["data"]))
        name = f"{hashlib.sha256(data).hexdigest()[:20]}.{ext}"
        target = outdir / FRAMES / name
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        used.add(target.resolve())
        url = Path(os.path.relpath(target, page_dir)).as_posix()
        value[0]["data"] = base64.b64encode(url.encode()).decode()
        model["state"]["format"] = "url"
        moved += 1
    return moved


def _merge_identical_styles(state: dict) -> int:
    """Merge layout/style models whose state is identical; return how many were dropped."""
    canonical: dict[str, str] = {}
    alias: dict[str, str] = {}
    for model_id, model in state.items():
        if not MERGEABLE.search(model.get("model_name", "")) or model.get("buffers"):
            continue
        key = json.dumps([model["model_name"], model["state"]], sort_keys=True)
        if key in canonical:
            alias[model_id] = canonical[key]
        else:
            canonical[key] = model_id
    if not alias:
        return 0
    for model_id in alias:
        del state[model_id]

    def follow(value):
        if isinstance(value, str) and value.startswith("IPY_MODEL_"):
            return "IPY_MODEL_" + alias.get(value[len("IPY_MODEL_") :], value[len("IPY_MODEL_") :])
        if isinstance(value, list):
            return [follow(v) for v in value]
        if isinstance(value, dict):
            return {k: follow(v) for k, v in value.items()}
        return value

    for model in state.values():
        model["state"] = follow(model["state"])
    return len(alias)


def lighten_page(page: Path, outdir: Path, used: set[Path]) -> tuple[int, int]:
    """Rewrite one built page's widget state; return (frames moved, models merged)."""
    text = page.read_text(encoding="utf-8")
    match = STATE_RE.search(text)
    if not match:
        return 0, 0
    document = json.loads(match.group(2))
    state = document.get("state", {})
    moved = _frames_to_files(state, page.parent, outdir, used)
    merged = _merge_identical_styles(state)
    if not moved and not merged:
        return 0, 0
    # "<\/" keeps a "</script>" inside a string from ending the block early.
    payload = json.dumps(document, separators=(",", ":")).replace("</", "<\\/")
    text = text[: match.start(2)] + payload + text[match.end(2) :]
    tmp = page.with_suffix(".html.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(page)
    return moved, merged


def shrink_figure(path: Path) -> bool:
    """Store a figure as a palette PNG when that looks the same and saves at least 10 %."""
    import numpy as np
    from PIL import Image

    picture = Image.open(path)
    picture.load()
    if picture.mode not in ("RGB", "RGBA"):
        return False
    if picture.mode == "RGBA" and np.asarray(picture)[:, :, 3].min() < 255:
        return False  # a transparent figure would lose its transparency
    rgb = picture.convert("RGB")
    pixels = np.asarray(rgb, dtype=np.int16)
    best: bytes | None = None
    # Octree is fast and small for flat plots; median cut keeps smooth colour maps faithful;
    # a k-means pass (slower, so only when the others fail) rescues photographs.
    tries = [
        (Image.Quantize.FASTOCTREE, 0),
        (Image.Quantize.MEDIANCUT, 0),
        (Image.Quantize.MEDIANCUT, 1),
    ]
    for method, kmeans in tries:
        if kmeans and best is not None:
            break
        palette = rgb.quantize(colors=256, method=method, kmeans=kmeans, dither=Image.Dither.NONE)
        error = np.abs(np.asarray(palette.convert("RGB"), dtype=np.int16) - pixels).mean()
        if error >= 2.0:
            continue
        buffer = io.BytesIO()
        palette.save(buffer, format="png", optimize=True)
        if best is None or buffer.tell() < len(best):
            best = buffer.getvalue()
    if best is None or len(best) > 0.9 * path.stat().st_size:
        return False
    path.write_bytes(best)
    return True


def lighten_site(outdir: Path) -> dict[str, int]:
    """Lighten every page and figure of a built site; return what was done, counted."""
    counts = {"pages": 0, "frames": 0, "merged": 0, "figures": 0, "stale": 0}
    used: set[Path] = set()
    for page in sorted(outdir.rglob("*.html")):
        moved, merged = lighten_page(page, outdir, used)
        if moved or merged:
            counts["pages"] += 1
            counts["frames"] += moved
            counts["merged"] += merged
    # Frames of pictures a later build no longer shows would otherwise be published forever.
    for frame in sorted((outdir / FRAMES).glob("*")) if (outdir / FRAMES).is_dir() else []:
        if frame.resolve() not in used:
            frame.unlink()
            counts["stale"] += 1
    images = outdir / "_images"
    if images.is_dir():
        for figure in sorted(images.glob("*.png")):
            counts["figures"] += shrink_figure(figure)
    return counts


def _build_finished(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    counts = lighten_site(Path(app.outdir))
    logging.getLogger(__name__).info(
        f"page_weight: {counts['frames']} demo frames moved to files and {counts['merged']} "
        f"identical widget styles merged on {counts['pages']} pages, "
        f"{counts['figures']} figures stored as palette PNGs, "
        f"{counts['stale']} stale frames removed"
    )


def setup(app):
    app.connect("build-finished", _build_finished)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

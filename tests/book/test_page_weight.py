"""The build step that keeps pages light (_ext/page_weight.py) loses no picture and no link."""

from __future__ import annotations

import base64
import importlib.util
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
# The extension is a Sphinx local extension (_ext/ is on Sphinx's path, not on Python's).
_SPEC = importlib.util.spec_from_file_location("page_weight", ROOT / "_ext" / "page_weight.py")
page_weight = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(page_weight)

STATE_TAG = '<script type="application/vnd.jupyter.widget-state+json">'


def _png(seed: int, size: tuple[int, int] = (60, 40)) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 4, size=(size[1], size[0], 3)) * 60
    buffer = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8)).save(buffer, format="png")
    return buffer.getvalue()


def _layout(model_id: str) -> tuple[str, dict]:
    return model_id, {
        "model_name": "LayoutModel",
        "model_module": "@jupyter-widgets/base",
        "state": {"width": "auto"},
    }


def _image(model_id: str, png: bytes, layout: str) -> tuple[str, dict]:
    return model_id, {
        "model_name": "ImageModel",
        "model_module": "@jupyter-widgets/controls",
        "state": {"format": "png", "layout": f"IPY_MODEL_{layout}"},
        "buffers": [
            {"data": base64.b64encode(png).decode(), "encoding": "base64", "path": ["value"]}
        ],
    }


def _page(tmp_path: Path, pictures: list[bytes]) -> Path:
    state = dict([_layout("L0")])
    children = []
    for number, png in enumerate(pictures):
        state.update([_layout(f"L{number + 1}"), _image(f"I{number}", png, f"L{number + 1}")])
        children.append(f"IPY_MODEL_I{number}")
    state["S"] = {
        "model_name": "StackModel",
        "state": {"children": children, "layout": "IPY_MODEL_L0", "title": "<b>1</b>"},
    }
    document = {"version_major": 2, "version_minor": 0, "state": state}
    page = tmp_path / "book" / "chapter.html"
    page.parent.mkdir(parents=True)
    page.write_text(
        f"<html><body>{STATE_TAG}{json.dumps(document)}</script></body></html>", encoding="utf-8"
    )
    return page


def _state(page: Path) -> dict:
    text = page.read_text(encoding="utf-8")
    match = page_weight.STATE_RE.search(text)
    assert match, "the page lost its widget state"
    return json.loads(match.group(2))["state"]


def test_frames_become_files_that_hold_the_same_pictures(tmp_path: Path) -> None:
    pictures = [_png(0), _png(1), _png(0)]  # the third repeats the first
    page = _page(tmp_path, pictures)
    counts = page_weight.lighten_site(tmp_path)
    assert counts["frames"] == 3 and counts["pages"] == 1
    state = _state(page)
    files = set()
    for number, png in enumerate(pictures):
        model = state[f"I{number}"]
        assert model["state"]["format"] == "url"
        url = base64.b64decode(model["buffers"][0]["data"]).decode()
        assert url.startswith("../_images/frames/"), url
        target = (page.parent / url).resolve()
        files.add(target)
        shown = np.asarray(Image.open(target).convert("RGB"))
        assert np.array_equal(shown, np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))), (
            f"frame {number} changed its pixels on the way to {target.name}"
        )
    assert len(files) == 2, "two identical frames should share one file"
    # "</" inside the state is written "<\\/", so no string can close the <script> block early.
    assert "</" not in page.read_text().split(STATE_TAG, 1)[1].rsplit("</script>", 1)[0]


def test_identical_layouts_merge_and_every_reference_still_resolves(tmp_path: Path) -> None:
    page = _page(tmp_path, [_png(0), _png(1)])
    page_weight.lighten_site(tmp_path)
    state = _state(page)
    layouts = [k for k, v in state.items() if v["model_name"] == "LayoutModel"]
    assert len(layouts) == 1
    references = [
        v["state"]["layout"].removeprefix("IPY_MODEL_")
        for v in state.values()
        if "layout" in v["state"]
    ]
    assert references and all(ref in state for ref in references)
    assert [c.removeprefix("IPY_MODEL_") in state for c in state["S"]["state"]["children"]]


def test_a_second_run_changes_nothing_and_stale_frames_go(tmp_path: Path) -> None:
    page = _page(tmp_path, [_png(0)])
    page_weight.lighten_site(tmp_path)
    before = page.read_text()
    stale = tmp_path / "_images" / "frames" / "0000.png"
    stale.write_bytes(_png(5))
    counts = page_weight.lighten_site(tmp_path)
    assert counts["frames"] == 0 and counts["stale"] == 1
    assert page.read_text() == before
    assert not stale.exists()
    assert len(list((tmp_path / "_images" / "frames").iterdir())) == 1


def _save(path: Path, pixels: np.ndarray) -> None:
    Image.fromarray(pixels.astype(np.uint8)).save(path, format="png")


def test_a_plot_becomes_a_palette_png_that_looks_the_same(tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5, 3), dpi=100)
    ax = fig.add_subplot()
    x = np.linspace(0, 6, 200)
    ax.plot(x, np.sin(x))
    ax.imshow(np.random.default_rng(0).integers(0, 9, (8, 8)), extent=(0, 2, -1, 0), cmap="gray")
    path = tmp_path / "plot.png"
    fig.savefig(path)
    before = np.asarray(Image.open(path).convert("RGB"), dtype=int)
    size = path.stat().st_size
    assert page_weight.shrink_figure(path)
    after = np.asarray(Image.open(path).convert("RGB"), dtype=int)
    assert Image.open(path).mode == "P" and path.stat().st_size < 0.9 * size
    assert np.abs(after - before).mean() < 1.0


@pytest.mark.parametrize("kind", ["photo", "transparent"])
def test_a_photo_or_a_transparent_figure_stays_as_it_is(tmp_path: Path, kind: str) -> None:
    rng = np.random.default_rng(1)
    path = tmp_path / f"{kind}.png"
    if kind == "photo":
        _save(path, rng.integers(0, 256, (64, 64, 3)))
    else:
        rgba = np.full((32, 32, 4), 255)
        rgba[:8, :, 3] = 0
        _save(path, rgba)
    original = path.read_bytes()
    assert not page_weight.shrink_figure(path)
    assert path.read_bytes() == original

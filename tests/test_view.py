"""`svibench view`: stitched videos, the page's data, and the page itself in a real headless
Chromium (Debian's chromium + chromium-driver, driven by selenium; .ci/run installs them)."""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, run_cli

from svibench.stitch import stitched_length, write_stitched_mp4
from svibench.video import iter_frames, probe_video, write_mp4


@pytest.fixture(scope="module")
def viewed(tmp_path_factory) -> Path:
    """`svibench run suites/tiny.toml && svibench view results/tiny`, as the README says."""
    project = tmp_path_factory.mktemp("view")
    (project / "svibench.toml").write_text((ROOT / "svibench.toml").read_text())
    (project / "suites").mkdir()
    (project / "suites" / "tiny.toml").write_text((ROOT / "suites" / "tiny.toml").read_text())
    run_cli("run", "suites/tiny.toml", "--no-progress", cwd=project, check=True)
    proc = run_cli("view", "results/tiny", cwd=project, check=True)
    assert "index.html" in proc.stdout
    return project / "results" / "tiny"


def _tiny_case_ids() -> list[str]:
    import tomllib

    suite = tomllib.loads((ROOT / "suites" / "tiny.toml").read_text())
    return sorted(c["id"] for c in suite["cases"])


def _data(run: Path) -> dict:
    text = (run / "view" / "data.js").read_text()
    return json.loads(text[text.index("=") + 1 : text.rindex(";")].replace("<\\/", "</"))


def test_stitched_video_is_browser_playable_with_upstream_length(tmp_path):
    rng = np.random.default_rng(0)
    clips = []
    for k in range(3):
        path = tmp_path / f"clip_{k:03d}.mp4"
        write_mp4(path, rng.integers(0, 255, (9, 33, 47, 3), dtype=np.uint8), 8)
        clips.append(path)
    out = tmp_path / "case.mp4"
    n = write_stitched_mp4(clips, 2, out, 8)
    assert n == stitched_length(3, 9, 2) == 23
    info = probe_video(out)
    assert (info.frames, info.fps, info.height, info.width) == (23, 8.0, 32, 46)  # even: yuv420p
    assert sum(1 for _ in iter_frames(out)) == 23
    data = out.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat"), "index must come first (+faststart)"
    import av

    with av.open(str(out)) as c:
        s = c.streams.video[0]
        assert (s.codec_context.name, s.codec_context.pix_fmt) == ("h264", "yuv420p")


def test_page_is_offline_and_carries_every_clip(viewed):
    page = viewed / "view"
    for name in ("index.html", "view.js", "view.css", "data.js"):
        text = (page / name).read_text()
        assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", text), f"{name} loads remotely"
    data = _data(viewed)
    (run,) = data["runs"]
    assert run["name"] == "tiny" and run["incomplete"] is None
    assert [c["id"] for c in run["cases"]] == _tiny_case_ids()
    import pandas as pd

    rows = pd.concat(
        [pd.read_parquet(p) for p in (viewed / "rows").glob("*/*.parquet")], ignore_index=True
    )
    for case in run["cases"]:
        assert (page / case["reference"]).is_file()
        assert set(case["videos"]) == {"tiny-world", "tiny-world-drift"}
        for gen, video in case["videos"].items():
            mp4 = page / video["src"]
            assert probe_video(mp4).frames == stitched_length(6, 17, 1)
            assert [c["k"] for c in video["clips"]] == list(range(6))
            assert video["clips"][2]["t0"] == pytest.approx(2 * 16 / 16)
            want = rows[
                (rows["generator"] == gen) & (rows["case"] == case["id"]) & (rows["clip"] == 3)
            ]
            got = video["clips"][3]["values"]
            assert got == pytest.approx(dict(zip(want.metric, want.value, strict=True)))
    for metric, plot in run["plots"].items():
        assert (page / plot).is_file(), metric


def _chromium():
    webdriver = pytest.importorskip("selenium.webdriver")
    browser = shutil.which("chromium")
    driver_bin = shutil.which("chromedriver")
    if not (browser and driver_bin):
        pytest.skip("Debian's chromium + chromium-driver are not installed (.ci/run installs them)")
    opts = webdriver.ChromeOptions()
    opts.binary_location = browser
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--autoplay-policy=no-user-gesture-required",
        "--window-size=1400,1000",
    ):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = webdriver.ChromeService(executable_path=driver_bin)  # offline: no driver download
    return webdriver.Chrome(options=opts, service=service)


def _wait(driver, script: str, timeout: float = 30.0, *args):
    end = time.monotonic() + timeout
    while True:
        value = driver.execute_script(script, *args)
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for: {script}")
        time.sleep(0.1)


TIMES = "return [...document.querySelectorAll('#case-' + arguments[0] + ' video')].map(v => [v.currentTime, v.seeking, v.readyState]);"


def _synced_at(driver, case: str, t: float) -> list:
    def ok():
        times = driver.execute_script(TIMES, case)
        return all(abs(ct - t) < 1e-2 and not seeking and rs >= 2 for ct, seeking, rs in times)

    end = time.monotonic() + 20
    while not ok():
        if time.monotonic() > end:
            raise AssertionError(
                f"{case}: videos not all at {t}: {driver.execute_script(TIMES, case)}"
            )
        time.sleep(0.1)
    return driver.execute_script(TIMES, case)


def test_page_in_headless_chromium(viewed, tmp_path):
    driver = _chromium()
    try:
        driver.get((viewed / "view" / "index.html").resolve().as_uri())
        cases = _wait(
            driver, "return window.svibenchView && [...window.svibenchView.cases.keys()];"
        )
        assert cases == _tiny_case_ids()
        for case in cases:  # lazy loading: each case loads when scrolled to
            driver.execute_script(f"document.getElementById('case-{case}').scrollIntoView();")
            states = _wait(
                driver,
                "const s = [...document.querySelectorAll('#case-' + arguments[0] + ' video')]"
                ".map(v => v.readyState); return s.length === 2 && s.every(r => r >= 2) && s;",
                30,
                case,
            )
            assert states == [4, 4] or all(r >= 2 for r in states)
        case = "desk"
        driver.execute_script(f"document.getElementById('case-{case}').scrollIntoView();")
        _wait(driver, "return document.querySelectorAll('#case-desk video')[1].readyState >= 2;")
        # one seek on the shared timeline seeks every video
        driver.execute_script("svibenchView.cases.get('desk').seek(3.0);")
        _synced_at(driver, case, 3.0)
        # seeking one video by itself seeks the others too
        driver.execute_script("document.querySelectorAll('#case-desk video')[1].currentTime = 1.5;")
        _synced_at(driver, case, 1.5)
        # clicking clip 4 in a metric strip jumps every video to that clip's start (4·(F−m)/fps)
        driver.execute_script(
            "document.querySelector('#case-desk .strip div[data-clip=\"4\"]').click();"
        )
        times = _synced_at(driver, case, 4.0 + 1e-3)
        assert len(times) == 2
        # play together, pause together: still in step
        driver.execute_script("document.querySelector('#case-desk .controls button').click();")
        time.sleep(1.0)
        driver.execute_script("document.querySelector('#case-desk .controls button').click();")
        times = driver.execute_script(TIMES, case)
        assert times[0][0] > 4.2, f"did not play: {times}"
        assert abs(times[0][0] - times[1][0]) < 0.2, f"out of sync after playing: {times}"
        # the generator filter hides a generator's tiles and table row
        driver.execute_script(
            "document.querySelector('#generator-filter input[data-generator=\"tiny-world\"]').click();"
        )
        hidden = driver.execute_script(
            "return [...document.querySelectorAll('.tile[data-generator=\"tiny-world\"]')].every(t => t.hidden)"
            " && !document.querySelector('table.board tr[data-generator=\"tiny-world\"]');"
        )
        assert hidden
        driver.execute_script(
            "document.querySelector('#generator-filter input[data-generator=\"tiny-world\"]').click();"
        )
        driver.execute_script("window.scrollTo(0, 0);")
        time.sleep(0.5)
        shot = tmp_path / "view.png"
        driver.save_screenshot(str(shot))
        keep = os.environ.get("SVIBENCH_ARTEFACTS")
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            shutil.copy(shot, Path(keep) / "view_screenshot.png")
        assert shot.stat().st_size > 10_000
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert not errors, errors
    finally:
        driver.quit()


def test_drift_plots_are_paper_ready(viewed, tmp_path):
    from PIL import Image

    from svibench.analysis.stats import bootstrap_ci
    from svibench.analysis.tables import clip_curve_ci, clip_curves, load_run
    from svibench.render.plots import plot_curves

    run = load_run(viewed)
    (png,) = [p for p in plot_curves(run, tmp_path, prefix="my-run") if "psnr_gt" in p.name]
    for ext in ("png", "svg", "pdf"):
        assert png.with_suffix(f".{ext}").stat().st_size > 1000
    assert Image.open(png).size[0] >= 1200  # 6.4 in at 200 dpi
    svg = png.with_suffix(".svg").read_text()
    assert "my-run (suite tiny): psnr_gt per clip" in svg  # the run, not just the suite
    assert "band: bootstrap 95 % CI" in svg
    assert (
        svg.count(f"(n = {len(_tiny_case_ids())} cases)") == 2
    )  # one legend entry (line + band) per generator
    # the band is the tables' estimator (bootstrap 95 % CI over cases), not ±1 s.e.
    ci = clip_curve_ci(run, "psnr_gt").set_index(["generator", "clip"])
    rows = run.rows[
        (run.rows["metric"] == "psnr_gt") & (run.rows["generator"] == "tiny-world-drift")
    ]
    for clip in (0, 5):
        values = rows[rows["clip"] == clip]["value"].to_numpy()
        assert tuple(ci.loc[("tiny-world-drift", clip), ["mean", "low", "high"]]) == bootstrap_ci(
            values
        )
    se = (
        clip_curves(run)
        .set_index(["generator", "metric", "clip"])
        .loc[("tiny-world-drift", "psnr_gt", 5)]
    )
    assert ci.loc[("tiny-world-drift", 5), "high"] != pytest.approx(se["mean"] + se["sem"])


def test_many_videos_load_lazily(viewed, tmp_path):
    """300 video tiles: only the cases on (or near) the screen hold a source at any time."""
    page = tmp_path / "page"
    shutil.copytree(viewed / "view", page)
    data = _data(viewed)
    (run,) = data["runs"]
    run["cases"] = [{**case, "id": f"desk{i:03d}"} for i in range(150) for case in run["cases"][:1]]
    (page / "data.js").write_text("window.SVIBENCH_VIEW = " + json.dumps(data) + ";\n")
    driver = _chromium()
    try:
        driver.get((page / "index.html").resolve().as_uri())
        _wait(driver, "return window.svibenchView && svibenchView.cases.size === 150;")
        loaded = "return [...document.querySelectorAll('video')].filter(v => v.hasAttribute('src')).length;"
        time.sleep(1)
        assert 0 < driver.execute_script(loaded) <= 12
        driver.execute_script("document.getElementById('case-desk100').scrollIntoView();")
        _wait(
            driver,
            "return [...document.querySelectorAll('#case-desk100 video')].every(v => v.readyState >= 2);",
        )
        assert driver.execute_script(loaded) <= 12
        top = "return document.querySelector('#case-desk000 video').hasAttribute('src');"
        assert not driver.execute_script(top)  # released once far off screen
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert not errors, errors
    finally:
        driver.quit()

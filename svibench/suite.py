"""Suites: a protocol (how clips are made) plus cases (reference image + one prompt per clip).

A suite file is TOML::

    [suite]       name, description, version
    [protocol]    frames_per_clip, fps, saved_fps (optional), max_width, height/width
                  (optional), clips, motion_frames, seed_base, seed_stride
    [dataset]     (optional) cases from a folder in the SVI benchmark layout
    [[cases]]     id, image, prompts

Case images are a path (relative to the suite file) or ``world:<seed>`` for a reference
frame rendered by the embedded tiny world (no files needed).
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from svibench.atomic import atomic_write_text
from svibench.errors import ConfigError
from svibench.tomlcheck import check_keys, read_toml
from svibench.world import World

SVI_DATASET_HINT = (
    "the SVI benchmark comes from the Hugging Face dataset 'vita-video-gen/svi-benchmark' "
    "(hf download vita-video-gen/svi-benchmark --repo-type dataset --local-dir DIR)"
)
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".webp", ".bmp")


@dataclass(frozen=True)
class Protocol:
    """How every clip of every case is produced (SVI defaults: 81 frames, 16 fps, width <= 832).

    ``fps`` is the generation rate: the content time of a clip (5 s per prompt = 80 new frames
    at 16 fps), used for drift slopes. ``saved_fps`` is the rate the videos are written and
    scored at (VBench's dynamic_degree and the windowed dimensions read it); upstream
    test_svi.py:483 saves at 24 fps, so the SVI suites set 24. None = ``fps``.
    """

    frames_per_clip: int = 81
    fps: int = 16
    saved_fps: int | None = None
    clips: int = 10
    max_width: int = 832
    width: int | None = None  # fixed size: both set; otherwise derived from the image
    height: int | None = None
    motion_frames: int = 1  # m: last m frames of clip k condition clip k+1
    seed_base: int = 0
    seed_stride: int = 42  # upstream test_svi.py: seed of clip k = 42 * k

    def seed(self, clip: int) -> int:
        return self.seed_base + self.seed_stride * clip

    def size_for(self, image_hw: tuple[int, int]) -> tuple[int, int]:
        """(height, width) of generated frames.

        Upstream utils/image_process.py: width <= max_width keeps the native size, else
        width = max_width and height = int(max_width * h / w); both floored to multiples of 16.
        """
        if self.width is not None and self.height is not None:
            return self.height, self.width
        h, w = image_hw
        if w > self.max_width:
            h, w = int(self.max_width * h / w), self.max_width
        return max(16, h // 16 * 16), max(16, w // 16 * 16)

    @property
    def seconds_per_clip(self) -> float:
        return (self.frames_per_clip - self.motion_frames) / self.fps

    @property
    def video_fps(self) -> int:
        """The fps videos are written with and that the metrics see."""
        return self.saved_fps if self.saved_fps is not None else self.fps

    def identity(self) -> dict[str, Any]:
        """Fields that change results. Optional fields left unset are omitted, so a suite file
        written before the field existed keeps its digest (and its runs keep resuming)."""
        return {k: v for k, v in asdict(self).items() if not (k in _OPTIONAL and v is None)}


_OPTIONAL = ("saved_fps",)


@dataclass(frozen=True)
class Case:
    id: str
    image: str  # absolute path, or "world:<seed>"
    prompts: tuple[str, ...]

    def prompt(self, clip: int) -> str:
        """Clip k takes prompt k, cycling when the list is shorter (``PromptSchedule()``)."""
        return self.prompts[clip % len(self.prompts)]


CLIP_COUNTS = ("suite", "upstream")


@dataclass(frozen=True)
class PromptSchedule:
    """Which prompt clip k gets and how many clips a case has: part of a generator's protocol.

    Upstream test_svi.py:396-401 and :430-438:
    - ``first`` (``--use_first_prompt_only``, scripts/test/svi_shot.sh): every clip gets
      prompts[0]; the case has ``--num_clips`` clips.
    - ``repeat:N`` (``--prompt_repeat_times N``, SVI 2.0: N = 2): clip k gets
      prompts[(k // N) % n]; the case has min(num_clips, n·N) clips.
    - ``cycle`` = ``repeat:1``: clip k gets prompts[k % n] (film, tom, shot-less scripts).

    ``clip_count``: ``"upstream"`` applies the min(num_clips, n·N) rule with the suite's
    ``clips`` as ``--num_clips``; ``"suite"`` always makes the suite's ``clips`` (prompts wrap
    around), svibench's rule for generators without an upstream script.
    """

    repeat: int = 1
    first_only: bool = False
    clip_count: str = "suite"

    @classmethod
    def parse(cls, spec: str, clip_count: str = "suite", where: str = "prompt_schedule"):
        if clip_count not in CLIP_COUNTS:
            raise ConfigError(
                f"{where}: clip_count must be 'suite' or 'upstream', got {clip_count!r}"
            )
        if spec == "first":
            return cls(1, True, clip_count)
        if spec == "cycle":
            return cls(1, False, clip_count)
        head, _, n = str(spec).partition(":")
        if head == "repeat" and n.isdigit() and int(n) >= 1:
            return cls(int(n), False, clip_count)
        raise ConfigError(f"{where}: 'first', 'cycle' or 'repeat:N' (N >= 1), got {spec!r}")

    @property
    def spec(self) -> str:
        if self.first_only:
            return "first"
        return "cycle" if self.repeat == 1 else f"repeat:{self.repeat}"

    def prompt(self, prompts: Sequence[str], clip: int) -> str:
        if self.first_only:
            return prompts[0]  # test_svi.py:431-432
        return prompts[(clip // self.repeat) % len(prompts)]  # test_svi.py:435-438

    def num_clips(self, n_prompts: int, suite_clips: int) -> int:
        if self.clip_count == "suite" or self.first_only:
            return suite_clips  # test_svi.py:396-397
        return min(suite_clips, n_prompts * self.repeat)  # test_svi.py:399-401

    def identity(self) -> dict[str, Any]:
        return {"prompt_schedule": self.spec, "clip_count": self.clip_count}

    def changed_identity(self) -> dict[str, Any]:
        """``identity()``, or {} for svibench's original rule (cycle, suite clips): what goes
        into config hashes, so runs and baselines made before schedules existed still match."""
        return {} if self == PromptSchedule() else self.identity()

    def describe(self) -> str:
        clips = (
            "suite clips"
            if self.clip_count == "suite" or self.first_only
            else ("min(suite clips, prompts" + (f" x {self.repeat})" if self.repeat > 1 else ")"))
        )
        return f"{self.spec}, {clips}"


@dataclass(frozen=True)
class Suite:
    name: str
    protocol: Protocol
    cases: tuple[Case, ...]
    description: str = ""
    version: int = 1
    source: str = ""  # file it came from
    meta: dict[str, Any] = field(default_factory=dict)

    def digest(self) -> str:
        """Content hash of everything that changes results (not the file path)."""
        blob = {
            "name": self.name,
            "version": self.version,
            "protocol": self.protocol.identity(),
            "cases": [asdict(c) | {"image": _image_identity(c.image)} for c in self.cases],
        }
        return hashlib.sha256(json.dumps(blob, sort_keys=True).encode()).hexdigest()


def clip_plan(suite: Suite, schedule: PromptSchedule) -> str:
    """How a generator with ``schedule`` runs ``suite``: its rule and clips per case."""
    counts = [schedule.num_clips(len(c.prompts), suite.protocol.clips) for c in suite.cases]
    spread = str(counts[0]) if min(counts) == max(counts) else f"{min(counts)}-{max(counts)}"
    return f"{schedule.describe()}: {spread} clips per case, {sum(counts)} in all"


def _image_identity(image: str) -> str:
    if image.startswith("world:"):
        return image
    p = Path(image)
    return hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else image


# ---------------------------------------------------------------- prompt files / dataset layout
def parse_prompt_text(text: str, where: str) -> list[str]:
    """Prompts from an SVI ``prompt.txt``.

    Upstream test_svi.py exec()s ``prompts = [...]``; we accept the same Python list literal
    but read it with ast.literal_eval (never executed). Otherwise one prompt per non-blank line
    that does not start with '#'.
    """
    stripped = text.strip()
    literal = stripped.split("=", 1)[1].strip() if stripped.startswith("prompts") else stripped
    if literal.startswith("["):
        try:
            value = ast.literal_eval(literal)
        except (ValueError, SyntaxError) as e:
            raise ConfigError(f"{where}: not a valid Python list of prompts ({e})") from None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}: the prompt list must hold strings only")
        prompts = [v.strip() for v in value if v.strip()]
    else:
        lines = (ln.strip() for ln in text.splitlines())
        prompts = [ln for ln in lines if ln and not ln.startswith("#")]
    if not prompts:
        raise ConfigError(f"{where}: no prompts (empty prompt list)")
    return prompts


def find_reference_image(folder: Path) -> Path:
    """Upstream utils/image_process.py order: frame.jpg > frame.png > any jpg > any png."""
    for name in ("frame.jpg", "frame.png"):
        if (folder / name).is_file():
            return folder / name
    for ext in (".jpg", ".png"):
        found = sorted(p for p in folder.iterdir() if p.suffix.lower() == ext)
        if found:
            return found[0]
    raise ConfigError(
        f"{folder}: no reference image (looked for frame.jpg, frame.png, *.jpg, *.png)"
    )


def cases_from_dataset(root: Path, limit: int | None = None) -> tuple[Case, ...]:
    """One case per sample folder (image + prompt.txt), sorted by folder name."""
    if not root.is_dir():
        raise ConfigError(f"dataset folder {root} does not exist; {SVI_DATASET_HINT}")
    cases = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        prompt_file = folder / "prompt.txt"
        if not prompt_file.is_file():
            continue
        prompts = parse_prompt_text(prompt_file.read_text(encoding="utf-8"), str(prompt_file))
        cases.append(Case(folder.name, str(find_reference_image(folder)), tuple(prompts)))
        if limit is not None and len(cases) >= limit:
            break
    if not cases:
        raise ConfigError(f"{root}: no sample folders with a prompt.txt; {SVI_DATASET_HINT}")
    return tuple(cases)


# ---------------------------------------------------------------- suite TOML
_PROTOCOL_KEYS = {f for f in Protocol.__dataclass_fields__}
_INT_MIN = {
    "frames_per_clip": 2,
    "fps": 1,
    "saved_fps": 1,
    "clips": 1,
    "max_width": 16,
    "width": 16,
    "height": 16,
    "motion_frames": 0,
    "seed_stride": 0,
}


def _protocol(table: dict, where: str) -> Protocol:
    check_keys(table, _PROTOCOL_KEYS, f"{where} [protocol]")
    for key, value in table.items():
        if not isinstance(value, int) or isinstance(value, bool):
            raise ConfigError(f"{where} [protocol].{key}: must be an integer, got {value!r}")
        if key in _INT_MIN and value < _INT_MIN[key]:
            raise ConfigError(f"{where} [protocol].{key}: must be >= {_INT_MIN[key]}, got {value}")
    p = Protocol(**table)
    if (p.width is None) != (p.height is None):
        raise ConfigError(f"{where} [protocol]: set both width and height, or neither")
    if p.motion_frames >= p.frames_per_clip:
        raise ConfigError(
            f"{where} [protocol].motion_frames: must be < frames_per_clip ({p.frames_per_clip})"
        )
    return p


def load_suite(
    path: str | Path, data: str | Path | None = None, datasets: dict | None = None
) -> Suite:
    """Read and validate a suite file.

    ``data`` (the CLI's ``--data``) overrides the dataset folder; ``datasets`` maps dataset
    names to folders (``[paths.datasets]`` of svibench.toml).
    """
    path = Path(path)
    raw = read_toml(path)
    where = str(path)
    check_keys(raw, {"suite", "protocol", "dataset", "cases"}, where)
    head = raw.get("suite", {})
    check_keys(head, {"name", "description", "version"}, f"{where} [suite]")
    name = head.get("name") or path.stem
    if not isinstance(name, str) or not name.replace("-", "").replace("_", "").isalnum():
        raise ConfigError(f"{where} [suite].name: use letters, digits, '-' and '_', got {name!r}")
    protocol = _protocol(raw.get("protocol", {}), where)
    cases: list[Case] = []
    if "dataset" in raw:
        cases.extend(_dataset_cases(raw["dataset"], where, data, datasets or {}))
    for i, entry in enumerate(raw.get("cases", [])):
        cases.append(_case(entry, path.parent, f"{where} [[cases]][{i}]"))
    if not cases:
        raise ConfigError(f"{where}: the suite has no cases (add [[cases]] or a [dataset])")
    ids = [c.id for c in cases]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        raise ConfigError(f"{where}: duplicate case id '{sorted(dup)[0]}'")
    return Suite(
        name=name,
        protocol=protocol,
        cases=tuple(cases),
        description=head.get("description", ""),
        version=int(head.get("version", 1)),
        source=str(path),
    )


def _dataset_cases(
    table: dict, where: str, data: str | Path | None, datasets: dict
) -> tuple[Case, ...]:
    check_keys(table, {"name", "subset", "limit", "path"}, f"{where} [dataset]")
    dname = table.get("name", "svi-benchmark")
    root = Path(data) if data else None
    if root is None and table.get("path"):
        root = Path(table["path"])
    if root is None and dname in datasets:
        root = Path(datasets[dname])
    if root is None:
        raise ConfigError(
            f"{where} [dataset]: no folder for dataset '{dname}': set [paths.datasets].{dname} "
            f"in svibench.toml or pass --data DIR; {SVI_DATASET_HINT}"
        )
    subset = table.get("subset")
    if subset and (root / subset).is_dir():
        root = root / subset
    limit = table.get("limit")
    return cases_from_dataset(root, limit)


def _case(entry: dict, base: Path, where: str) -> Case:
    check_keys(entry, {"id", "image", "prompts", "prompt_file"}, where)
    cid = entry.get("id")
    if not isinstance(cid, str) or not cid or "/" in cid:
        raise ConfigError(f"{where}.id: a non-empty string without '/' is required")
    image = entry.get("image")
    if not isinstance(image, str) or not image:
        raise ConfigError(f"{where}.image: a path or 'world:<seed>' is required")
    if image.startswith("world:"):
        try:
            int(image.split(":", 1)[1])
        except ValueError:
            raise ConfigError(
                f"{where}.image: 'world:' must be followed by an integer seed"
            ) from None
    else:
        p = (base / image).resolve()
        if not p.is_file():
            raise ConfigError(f"{where}.image: reference image {p} not found")
        image = str(p)
    if "prompt_file" in entry:
        pf = (base / entry["prompt_file"]).resolve()
        if not pf.is_file():
            raise ConfigError(f"{where}.prompt_file: {pf} not found")
        prompts = parse_prompt_text(pf.read_text(encoding="utf-8"), str(pf))
    else:
        prompts = entry.get("prompts")
        if not isinstance(prompts, list) or not all(isinstance(p, str) for p in prompts):
            raise ConfigError(f"{where}.prompts: a list of strings is required")
        prompts = [p.strip() for p in prompts if p.strip()]
        if not prompts:
            raise ConfigError(f"{where}.prompts: empty prompt list")
    return Case(cid, image, tuple(prompts))


def load_reference_image(case: Case, size_hint: tuple[int, int] = (64, 64)) -> np.ndarray:
    """The case's reference image as uint8 H×W×3 (native size; generators resize)."""
    if case.image.startswith("world:"):
        return World(
            seed=int(case.image.split(":", 1)[1]), height=size_hint[0], width=size_hint[1]
        ).reference()
    return decode_image(case.image, f"case '{case.id}'")


def decode_image(path: str, where: str) -> np.ndarray:
    """uint8 RGB H×W×3 exactly as upstream reads the reference (test_svi.py:374):
    ``cv2.imread`` (IMREAD_COLOR: applies the EXIF orientation, drops alpha, 16-bit -> 8-bit,
    grey -> 3 channels) then BGR -> RGB. PIL would ignore the EXIF orientation."""
    import cv2

    data = np.fromfile(path, dtype=np.uint8) if Path(path).is_file() else None
    bgr = None if data is None or data.size == 0 else cv2.imdecode(data, cv2.IMREAD_COLOR)
    if bgr is None:
        raise ConfigError(
            f"{where}: cannot read reference image {path} (not an image OpenCV decodes)"
        )
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _toml_str(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def write_suite_from_folder(
    folder: Path,
    out: Path,
    name: str | None = None,
    clips: int | None = None,
    motion_frames: int = 5,
) -> Path:
    """``svibench suite import``: a dataset folder -> a suite file with explicit cases.

    Protocol defaults are SVI's (81 frames, 16 fps saved at 24, width <= 832, seed 42·k); image paths are
    written relative to the suite file.
    """

    cases = cases_from_dataset(Path(folder))
    n = clips or min(10, max(len(c.prompts) for c in cases))
    name = name or Path(out).stem
    out = Path(out)
    lines = [
        "# Imported by `svibench suite import` from " + str(Path(folder)),
        "[suite]",
        f"name = {_toml_str(name)}",
        f"description = {_toml_str(f'{len(cases)} cases from {Path(folder).name}, {n} clips each')}",
        "version = 1",
        "",
        "[protocol]  # SVI upstream: 81 frames at 16 fps, width <= 832, seed of clip k = 42k",
        "frames_per_clip = 81",
        "fps = 16",
        "saved_fps = 24            # upstream test_svi.py:483 writes its mp4s at 24 fps",
        f"clips = {n}",
        "max_width = 832",
        f"motion_frames = {motion_frames}",
        "seed_base = 0",
        "seed_stride = 42",
    ]
    base = out.resolve().parent
    for c in cases:
        rel = os.path.relpath(c.image, base)
        lines += [
            "",
            "[[cases]]",
            f"id = {_toml_str(c.id)}",
            f"image = {_toml_str(rel)}",
            "prompts = [",
        ]
        lines += [f"  {_toml_str(p)}," for p in c.prompts]
        lines.append("]")
    atomic_write_text(out, "\n".join(lines) + "\n")
    load_suite(out)  # what we wrote must read back
    return out


def load_protocol(path: str | Path) -> tuple[dict, Protocol]:
    """A suite file's ``[suite]`` table and validated protocol, without resolving its cases
    (``suite show`` works before the dataset is downloaded)."""
    raw = read_toml(Path(path))
    return raw.get("suite", {}), _protocol(raw.get("protocol", {}), str(path))

"""Offline weight catalogue: which file each backbone needs, where it is looked for, how to
check it and where to obtain it. Nothing here downloads except ``fetch`` (user-invoked).

Where files are looked for comes from ``[paths]`` of the loaded ``svibench.toml``
(``WeightPaths``; ``load_config`` makes it the process's lookup, so ``--config`` is honoured),
then from the environment. For a catalogue entry ``NAME`` (first hit wins):

1. ``[paths.weights] NAME = "/path/file"`` or ``NAME = { path = "...", sha256 = "..." }``
   (a pinned hash overrides the catalogue's);
2. the flat folder ``[paths] weights = "DIR"`` (or ``dir = "DIR"`` inside ``[paths.weights]``),
   then ``$SVIBENCH_WEIGHTS_DIR``: ``DIR/<filename>``;
3. the entry's standard caches, in the order listed, each derived from ONE setting, the VBench
   cache ``V`` (``[paths] vbench_cache``, else ``$VBENCH_CACHE_DIR``, else ``~/.cache/vbench``:
   VBench's own ``CACHE_DIR``, so VBench users reuse their downloads):
   * ``vbench``: ``V`` itself, in VBench's layout (``clip_model/``, ``raft_model/``...);
   * ``torch_hub`` / ``pyiqa``: ``<torch home>/hub/checkpoints`` / ``<torch home>/hub/pyiqa``
     for the torch home ``[paths] torch_home``, else ``$TORCH_HOME``, else
     ``~/.cache/torch``; then the torch homes beside ``V``: ``V/../torch_home`` (the layout of
     ``shared/tools/vbench_ref``) and ``V/../torch`` (``~/.cache/torch`` beside
     ``~/.cache/vbench``);
   * ``dreamsim``: ``[paths] dreamsim_cache``, else ``$SVIBENCH_DREAMSIM_DIR``; then
     ``V/dreamsim_models`` and ``V/../dreamsim_models``. Never the working directory
     (``dreamsim(pretrained=True)``'s own default ``./models`` is cwd-relative: point
     ``dreamsim_cache`` at that folder);
   * ``clip``: OpenAI CLIP's ``~/.cache/clip``; ``hf_hub``: ``$HF_HUB_CACHE``.

Relative paths in ``svibench.toml`` are relative to that file. ``svibench weights list`` prints
every location tried. A file that is absent, or whose sha256 differs from the expected one (full
digest where known, else the 8-hex prefix torch-hub style names carry), raises
``MissingWeightsError`` naming the file and the fix. Files that are not the published ones
(e.g. the seeded random weights of the VBench parity check) are verified against their own
manifest instead, ``[paths] weights_manifest = "W/MANIFEST.json"`` (``{"files": {key: {"path":
relative to the manifest, "sha256": ...}}}``, as ``shared/tools/vbench_ref`` writes it): a
file listed there must have that digest. ``SVIBENCH_VERIFY_WEIGHTS=0`` still skips hashing.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from svibench.atomic import atomic_write_json
from svibench.errors import ConfigError, MissingWeightsError

_ROOTS = ("vbench", "torch_hub", "pyiqa", "clip", "hf_hub", "dreamsim")


@dataclass(frozen=True)
class WeightPaths:
    """Where weights are looked for: ``[paths]`` of svibench.toml, absolute paths."""

    files: Mapping[str, Any] = field(default_factory=dict)  # [paths.weights] NAME = ...
    folder: Path | None = None  # [paths] weights = "DIR"
    vbench_cache: Path | None = None
    torch_home: Path | None = None
    dreamsim_cache: Path | None = None
    manifest: Path | None = None  # [paths] weights_manifest
    origin: str = "svibench.toml"  # the file these came from, for messages


_ACTIVE = WeightPaths(origin="defaults")


def use_paths(paths: WeightPaths) -> None:
    """Make ``paths`` the lookup of this process (``load_config`` calls it)."""
    global _ACTIVE
    _ACTIVE = paths


def active_paths() -> WeightPaths:
    return _ACTIVE


def _env_path(var: str) -> Path | None:
    v = os.environ.get(var)
    return Path(v).expanduser() if v else None


def vbench_cache_dir(paths: WeightPaths | None = None) -> Path:
    """VBench's CACHE_DIR (vbench/utils.py): [paths] vbench_cache, $VBENCH_CACHE_DIR, default."""
    p = paths or _ACTIVE
    return p.vbench_cache or _env_path("VBENCH_CACHE_DIR") or Path("~/.cache/vbench").expanduser()


def _torch_homes(p: WeightPaths) -> list[Path]:
    xdg = Path(os.environ.get("XDG_CACHE_HOME", "~/.cache")).expanduser()
    first = p.torch_home or _env_path("TORCH_HOME") or xdg / "torch"
    v = vbench_cache_dir(p)
    return [first, v.parent / "torch_home", v.parent / "torch"]


def root_dirs(kind: str, paths: WeightPaths | None = None) -> list[Path]:
    """Every directory a root kind stands for, in search order (duplicates removed)."""
    p = paths or _ACTIVE
    v = vbench_cache_dir(p)
    if kind == "vbench":
        dirs = [v]
    elif kind == "torch_hub":
        dirs = [h / "hub" / "checkpoints" for h in _torch_homes(p)]
    elif kind == "pyiqa":  # pyiqa/utils/download_util.py DEFAULT_CACHE_DIR
        dirs = [h / "hub" / "pyiqa" for h in _torch_homes(p)]
    elif kind == "clip":  # openai-clip clip.load default download_root
        dirs = [Path("~/.cache/clip").expanduser()]
    elif kind == "hf_hub":
        hf_home = Path(os.environ.get("HF_HOME", "~/.cache/huggingface")).expanduser()
        dirs = [Path(os.environ.get("HF_HUB_CACHE", hf_home / "hub")).expanduser()]
    elif kind == "dreamsim":
        first = p.dreamsim_cache or _env_path("SVIBENCH_DREAMSIM_DIR")
        dirs = ([first] if first else []) + [v / "dreamsim_models", v.parent / "dreamsim_models"]
    else:
        raise ValueError(f"unknown weights root {kind!r} (known: {', '.join(_ROOTS)})")
    out: list[Path] = []
    for d in dirs:
        if d not in out:
            out.append(d)
    return out


def root_dir(kind: str, paths: WeightPaths | None = None) -> Path:
    """The first directory of a root kind (where ``fetch`` writes)."""
    return root_dirs(kind, paths)[0]


@dataclass(frozen=True)
class Location:
    """One place a file may be: a root kind plus a relative path (may hold a ``*`` glob)."""

    root: str
    rel: str
    fmt: str  # how the loader reads it: torchscript_clip | state_dict | open_clip | ...

    def matches(self, paths: WeightPaths | None = None) -> list[Path]:
        out: list[Path] = []
        for d in root_dirs(self.root, paths):
            pattern = str(d / self.rel)
            out += (
                sorted(Path(p) for p in glob.glob(pattern)) if "*" in self.rel else [Path(pattern)]
            )
        return out


@dataclass(frozen=True)
class WeightSpec:
    name: str
    filename: str
    description: str
    used_by: tuple[str, ...]
    locations: tuple[Location, ...]
    url: str
    fmt: str  # format of the canonical file
    sha256: str | None = None  # full digest of the published file, where known
    sha256_prefix: str | None = None  # torch-hub style 8-hex prefix from the file name
    size_mb: float | None = None
    note: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Resolved:
    spec: WeightSpec
    path: Path
    fmt: str
    source: str  # "svibench.toml" | "[paths] weights" | "SVIBENCH_WEIGHTS_DIR" | root kind


_OPENAI = "https://openaipublic.azureedge.net/clip/models"
# openai-clip clip/clip.py _MODELS: the URL path segment is the file's sha256
_B32 = "40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af"
_L14 = "b8cca3fd41ae0c99ba7e8951adf17d267cdb84cd88be6f7c2e0eca1737a03836"
# dreamsim config.py dreamsim_weights["ensemble"]: one zip holding the CLIP/OpenCLIP ViTs and
# the LoRA (``fetch`` extracts the one file an entry needs); the DINO backbone is DINO's own file
_DREAMSIM_ZIP = (
    "https://github.com/ssundaram21/dreamsim/releases/download/v0.2.0-checkpoints/"
    "dreamsim_ensemble_checkpoint.zip"
)
_DREAMSIM_NOTE = (
    "DreamSim 0.2.1 ensemble (i2v_background); the files unzip into DreamSim's cache dir "
    "([paths] dreamsim_cache; VBench-I2V ran `dreamsim(pretrained=True)`, whose cache is "
    "./models of the folder VBench ran in)"
)
CATALOGUE: dict[str, WeightSpec] = {
    s.name: s
    for s in [
        WeightSpec(
            "dino_vitb16",
            "dino_vitbase16_pretrain.pth",
            "DINO ViT-B/16 (facebookresearch/dino), plain state_dict",
            ("subject_consistency", "i2v_subject"),
            (
                # DINO's hubconf really reads the torch hub dir (vbench_ref CAVEATS.md)
                Location("torch_hub", "dino_vitbase16_pretrain.pth", "state_dict"),
                Location("vbench", "dino_model/dino_vitbase16_pretrain.pth", "state_dict"),
            ),
            "https://dl.fbaipublicfiles.com/dino/dino_vitbase16_pretrain/dino_vitbase16_pretrain.pth",
            "state_dict",
            size_mb=343,
        ),
        WeightSpec(
            "clip_vitb32",
            "ViT-B-32.pt",
            "OpenAI CLIP ViT-B/32, TorchScript archive (as released)",
            ("background_consistency",),
            (
                Location("vbench", "clip_model/ViT-B-32.pt", "torchscript_clip"),
                Location("clip", "ViT-B-32.pt", "torchscript_clip"),
            ),
            f"{_OPENAI}/{_B32}/ViT-B-32.pt",
            "torchscript_clip",
            sha256=_B32,
            size_mb=338,
        ),
        WeightSpec(
            "clip_vitl14",
            "ViT-L-14.pt",
            "OpenAI CLIP ViT-L/14 (224 px), TorchScript archive (as released)",
            ("aesthetic_quality", "clip_text"),
            (
                Location("vbench", "clip_model/ViT-L-14.pt", "torchscript_clip"),
                Location("clip", "ViT-L-14.pt", "torchscript_clip"),
            ),
            f"{_OPENAI}/{_L14}/ViT-L-14.pt",
            "torchscript_clip",
            sha256=_L14,
            size_mb=890,
        ),
        WeightSpec(
            "laion_aesthetic",
            "sa_0_4_vit_l_14_linear.pth",
            "LAION aesthetic predictor v1 linear head (768 -> 1), state_dict {weight, bias}",
            ("aesthetic_quality",),
            (
                Location(
                    "vbench", "aesthetic_model/emb_reader/sa_0_4_vit_l_14_linear.pth", "state_dict"
                ),
            ),
            "https://github.com/LAION-AI/aesthetic-predictor/raw/main/sa_0_4_vit_l_14_linear.pth",
            "state_dict",
            size_mb=0.003,
        ),
        WeightSpec(
            "musiq_spaq",
            "musiq_spaq_ckpt-358bb6af.pth",
            "MUSIQ trained on SPAQ (pyiqa MUSIQ(num_class=1)), state_dict",
            ("imaging_quality",),
            (
                Location("vbench", "pyiqa_model/musiq_spaq_ckpt-358bb6af.pth", "state_dict"),
                Location("pyiqa", "musiq_spaq_ckpt-358bb6af.pth", "state_dict"),
            ),
            "https://github.com/chaofengc/IQA-PyTorch/releases/download/v0.1-weights/musiq_spaq_ckpt-358bb6af.pth",
            "state_dict",
            sha256_prefix="358bb6af",
            size_mb=109,
        ),
        WeightSpec(
            "raft_things",
            "raft-things.pth",
            "RAFT large trained on Chairs+Things (princeton-vl), keys prefixed 'module.'; "
            "torchvision's port raft_large_C_T_V1 is accepted too",
            ("dynamic_degree",),
            (
                Location("vbench", "raft_model/models/raft-things.pth", "raft_princeton"),
                Location("torch_hub", "raft_large_C_T_V1-22a6c225.pth", "raft_torchvision"),
            ),
            "https://dl.dropboxusercontent.com/s/4j4z58wuv8o0mfz/models.zip",
            "raft_princeton",
            size_mb=21,
            note="the URL is RAFT's models.zip (VBench unzips it into raft_model/); "
            "alternative: https://download.pytorch.org/models/raft_large_C_T_V1-22a6c225.pth",
        ),
        WeightSpec(
            "amt_s",
            "amt-s.pth",
            "AMT-S frame interpolation (MCG-NKU/AMT), {'state_dict': sd}",
            ("motion_smoothness",),
            (
                Location("vbench", "amt_model/amt-s.pth", "amt"),
                # `hf download lalala125/AMT amt-s.pth` lands here
                Location("hf_hub", "models--lalala125--AMT/snapshots/*/amt-s.pth", "amt"),
            ),
            "https://huggingface.co/lalala125/AMT/resolve/main/amt-s.pth",
            "amt",
            size_mb=12,
        ),
        WeightSpec(
            "dreamsim_dino_vitb16",
            "dino_vitbase16_pretrain.pth",
            "DINO ViT-B/16 backbone of DreamSim's ensemble (DINO's own file; DreamSim points "
            "torch.hub at its cache dir, so it sits in <cache>/checkpoints/)",
            ("i2v_background",),
            (
                Location("dreamsim", "checkpoints/dino_vitbase16_pretrain.pth", "state_dict"),
                Location("torch_hub", "dino_vitbase16_pretrain.pth", "state_dict"),
                Location("vbench", "dino_model/dino_vitbase16_pretrain.pth", "state_dict"),
            ),
            "https://dl.fbaipublicfiles.com/dino/dino_vitbase16_pretrain/dino_vitbase16_pretrain.pth",
            "state_dict",
            size_mb=343,
            note=_DREAMSIM_NOTE,
        ),
        WeightSpec(
            "dreamsim_clip_vitb16",
            "clip_vitb16_pretrain.pth.tar",
            "OpenAI CLIP ViT-B/16 as a DINO-style ViT (DreamSim), {'state_dict': sd + 'proj'}",
            ("i2v_background",),
            (Location("dreamsim", "clip_vitb16_pretrain.pth.tar", "state_dict"),),
            _DREAMSIM_ZIP,
            "state_dict",
            size_mb=345,
            note=_DREAMSIM_NOTE,
        ),
        WeightSpec(
            "dreamsim_open_clip_vitb16",
            "open_clip_vitb16_pretrain.pth.tar",
            "OpenCLIP ViT-B/16 (LAION-400M) as a DINO-style ViT (DreamSim), "
            "{'state_dict': sd + 'proj'}",
            ("i2v_background",),
            (Location("dreamsim", "open_clip_vitb16_pretrain.pth.tar", "state_dict"),),
            _DREAMSIM_ZIP,
            "state_dict",
            size_mb=345,
            note=_DREAMSIM_NOTE,
        ),
        WeightSpec(
            "dreamsim_ensemble_lora",
            "adapter_model.safetensors",
            "DreamSim ensemble LoRA (peft, r 16, alpha 0.5 on every qkv); adapter_config.json "
            "beside it is read when present",
            ("i2v_background",),
            (
                Location("dreamsim", "ensemble_lora/adapter_model.safetensors", "peft_lora"),
                # older peft saves the same tensors as a pickle
                Location("dreamsim", "ensemble_lora/adapter_model.bin", "peft_lora"),
            ),
            _DREAMSIM_ZIP,
            "peft_lora",
            size_mb=7,
            note=_DREAMSIM_NOTE,
        ),
        WeightSpec(  # LPIPS trunk; LPIPS's linear layers ship inside the lpips wheel
            "alexnet",
            "alexnet-owt-7be5be79.pth",
            "torchvision AlexNet (ImageNet), the trunk of LPIPS v0.1 net='alex', plain state_dict",
            ("lpips",),
            (Location("torch_hub", "alexnet-owt-7be5be79.pth", "state_dict"),),
            "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
            "state_dict",
            sha256_prefix="7be5be79",
            size_mb=233,
        ),
    ]
}


def _verify_enabled() -> bool:
    return os.environ.get("SVIBENCH_VERIFY_WEIGHTS", "1").lower() not in ("0", "false", "no")


_HASH_MEMO: dict[tuple[str, int, int, int], str] = {}


def hash_cache_file() -> Path | None:
    """Where verified sha256 digests persist between runs, so that a run does not re-read
    gigabytes of unchanged weights (ViT-L/14 alone takes ~1 s on 2 cores): ``$SVIBENCH_HASH_CACHE``,
    else ``$XDG_CACHE_HOME/svibench/sha256.json`` (``~/.cache``); ``SVIBENCH_HASH_CACHE=""`` or
    ``0`` turns it off. An entry counts only while the file's path, size, mtime (ns) and inode are
    unchanged, as git's index and pip's cache trust them."""
    env = os.environ.get("SVIBENCH_HASH_CACHE")
    if env is not None:
        return None if env.strip() in ("", "0") else Path(env).expanduser()
    xdg = Path(os.environ.get("XDG_CACHE_HOME", "~/.cache")).expanduser()
    return xdg / "svibench" / "sha256.json"


def _read_hash_cache(cache: Path) -> dict[str, list]:
    try:
        data = json.loads(cache.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # absent or unreadable: hashes are recomputed (and the file rewritten)
    return data if isinstance(data, dict) else {}


def sha256_file(path: Path) -> str:
    """sha256 of a file, memoised per (path, size, mtime, inode) in the process and in the
    persistent cache of ``hash_cache_file``."""
    path = Path(path).resolve()
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns, st.st_ino)
    if key in _HASH_MEMO:
        return _HASH_MEMO[key]
    cache = hash_cache_file()
    stored = _read_hash_cache(cache).get(key[0]) if cache else None
    if isinstance(stored, list) and len(stored) == 4 and tuple(stored[:3]) == key[1:]:
        _HASH_MEMO[key] = str(stored[3])
        return _HASH_MEMO[key]
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    _HASH_MEMO[key] = h.hexdigest()
    if cache:
        entries = _read_hash_cache(cache)  # re-read: another process may have added entries
        entries[key[0]] = [*key[1:], _HASH_MEMO[key]]
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_json(cache, entries)
        except OSError:
            pass  # a read-only cache dir only costs the next run a re-hash
    return _HASH_MEMO[key]


def manifest_digests(manifest: Path) -> dict[Path, str]:
    """{absolute file: sha256} of a weights manifest (vbench_ref MANIFEST.json layout)."""
    try:
        data = json.loads(manifest.read_text())
        files = data["files"]
        return {
            (manifest.parent / e["path"]).resolve(): str(e["sha256"]).lower()
            for e in files.values()
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise ConfigError(
            f"[paths] weights_manifest: {manifest} is not a readable weights manifest "
            f'(expected {{"files": {{key: {{"path": ..., "sha256": ...}}}}}}): {e}'
        ) from None


def fix_hint(spec: WeightSpec) -> str:
    return (
        f"fix: `svibench weights fetch {spec.name}` on a machine with internet (or download "
        f'{spec.url} yourself), or set [paths.weights] {spec.name} = "/path/to/{spec.filename}" '
        "or [paths] vbench_cache in svibench.toml (`svibench weights list` shows every place "
        "looked in)"
    )


def spec(name: str) -> WeightSpec:
    if name not in CATALOGUE:
        raise ConfigError(f"unknown weights '{name}' (known: {', '.join(sorted(CATALOGUE))})")
    return CATALOGUE[name]


def _override(name: str, p: WeightPaths) -> tuple[Path, str, str | None] | None:
    ov = p.files.get(name)
    if ov is None:
        return None
    s = spec(name)
    if isinstance(ov, Mapping):
        return Path(ov["path"]), str(ov.get("format", s.fmt)), ov.get("sha256")
    return Path(ov), s.fmt, None


def candidates(name: str, paths: WeightPaths | None = None) -> list[tuple[Path, str, str]]:
    """Every (path, format, source) that ``resolve`` would try, in order."""
    p = paths or _ACTIVE
    s = spec(name)
    out: list[tuple[Path, str, str]] = []
    ov = _override(name, p)
    if ov is not None:
        out.append((ov[0], ov[1], f"{p.origin} [paths.weights] {name}"))
    if p.folder is not None:
        out.append((p.folder / s.filename, s.fmt, f"{p.origin} [paths] weights"))
    flat = _env_path("SVIBENCH_WEIGHTS_DIR")
    if flat:
        out.append((flat / s.filename, s.fmt, "SVIBENCH_WEIGHTS_DIR"))
    for loc in s.locations:
        out.extend((m, loc.fmt, loc.root) for m in loc.matches(p))
    return out


def verify(resolved: Resolved, pinned: str | None = None, paths: WeightPaths | None = None) -> None:
    """Raise MissingWeightsError if the file's sha256 disagrees with what is expected: the
    pinned hash, else the weights manifest's entry for this file, else the catalogue's."""
    p = paths or _ACTIVE
    s = resolved.spec
    listed = None
    if pinned is None and p.manifest is not None:
        listed = manifest_digests(p.manifest).get(resolved.path.resolve())
    if pinned or listed:
        want, prefix, why = pinned or listed, None, "pinned" if pinned else f"{p.manifest}"
    else:
        want = s.sha256 if resolved.fmt == s.fmt else None
        prefix = (
            s.sha256_prefix if resolved.fmt == s.fmt and resolved.path.name == s.filename else None
        )
        if resolved.fmt == "raft_torchvision":
            prefix = "22a6c225"  # torchvision's file name carries its own prefix
        why = "the published file"
    if not (want or prefix):
        return
    got = sha256_file(resolved.path)
    if (want and got != want) or (prefix and not got.startswith(prefix)):
        raise MissingWeightsError(
            f"weights '{s.name}': {resolved.path} has sha256 {got[:16]}..., expected "
            f"{(want or prefix)[:16]}... ({why}); {fix_hint(s)}"
        )


def resolve(
    name: str,
    paths: WeightPaths | None = None,
    check_hash: bool | None = None,
) -> Resolved:
    """The first existing file for ``name``; MissingWeightsError (exit 2) if there is none."""
    p = paths or _ACTIVE
    s = spec(name)
    tried = candidates(name, p)
    for path, fmt, source in tried:
        if path.is_file():
            r = Resolved(s, path, fmt, source)
            if check_hash if check_hash is not None else _verify_enabled():
                ov = _override(name, p)
                verify(r, ov[2] if ov is not None and ov[0] == path else None, p)
            return r
    looked = ", ".join(str(x) for x, _, _ in tried) or "nowhere"
    raise MissingWeightsError(
        f"weights '{s.name}' ({s.filename}) not found; looked in: {looked}; {fix_hint(s)}"
    )


def check_all(names: list[str] | tuple[str, ...], paths: WeightPaths | None = None) -> None:
    """Resolve (and hash-check) every name; one MissingWeightsError listing all failures."""
    bad = []
    for n in dict.fromkeys(names):
        try:
            resolve(n, paths)
        except MissingWeightsError as e:
            bad.append(str(e))
    if bad:
        raise MissingWeightsError(
            f"{len(bad)} weight file(s) missing or wrong, nothing was generated: " + " | ".join(bad)
        )


def preload(extractors: Mapping[str, Any]) -> None:
    """Preflight of a run: check every weight file of every feature first (one error listing
    all that are missing or fail their hash), then load each model; all of it before the
    first clip is generated. Features built with an injected ``model`` need no file."""
    check_all(
        [
            w
            for ex in extractors.values()
            if getattr(ex, "model", None) is None
            for w in getattr(ex, "weights", ())
        ]
    )
    for ex in extractors.values():
        ex.load()


def fetch(name: str, dest_root: str = "vbench", paths: WeightPaths | None = None) -> Path:
    """Download the published file into the first location of ``dest_root`` kind.

    Only ever called by the user (``svibench weights fetch``); never in tests or runs.
    """
    import shutil
    import tempfile
    import urllib.request
    import zipfile

    s = spec(name)
    loc = next((x for x in s.locations if x.root == dest_root and x.fmt == s.fmt), s.locations[0])
    dst = root_dir(loc.root, paths) / loc.rel
    dst.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        part = Path(tmp) / Path(s.url).name
        with urllib.request.urlopen(s.url) as r, open(part, "wb") as f:  # noqa: S310
            shutil.copyfileobj(r, f)
        if part.suffix == ".zip":  # RAFT ships models.zip (VBench unzips it the same way)
            with zipfile.ZipFile(part) as z:
                member = next(m for m in z.namelist() if m.endswith(s.filename))
                with z.open(member) as src, open(Path(tmp) / s.filename, "wb") as out:
                    shutil.copyfileobj(src, out)
            part = Path(tmp) / s.filename
        shutil.move(str(part), dst)
    verify(Resolved(s, dst, loc.fmt, loc.root), paths=paths)
    return dst

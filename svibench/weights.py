"""Offline weight catalogue: which file each backbone needs, where it is looked for, how to
check it and where to obtain it. Nothing here downloads except ``fetch`` (user-invoked).

Search order for a catalogue entry ``NAME`` (first hit wins):

1. ``svibench.toml`` ``[paths.weights]`` table: ``NAME = "/path/file"`` or
   ``NAME = { path = "/path/file", sha256 = "..." }`` (a pinned hash overrides the catalogue's);
   or ``[paths] weights = "DIR"``: ``DIR/<filename>`` (one flat folder);
2. ``$SVIBENCH_WEIGHTS_DIR/<filename>`` (one flat folder, handy on clusters);
3. the entry's standard caches, in the order listed: VBench's cache (``$VBENCH_CACHE_DIR`` or
   ``~/.cache/vbench``, so VBench users reuse their downloads), the torch hub dir
   (``$TORCH_HOME/hub/checkpoints``), pyiqa's dir (``$TORCH_HOME/hub/pyiqa``), OpenAI CLIP's
   ``~/.cache/clip``, the Hugging Face hub cache (``$HF_HUB_CACHE``) and DreamSim's cache
   (``$SVIBENCH_DREAMSIM_DIR``, else ``./models``: the cwd-relative ``cache_dir`` default of
   ``dreamsim(pretrained=True)``, which is what VBench-I2V's i2v_background uses).

A file that is absent, or whose sha256 differs from the expected one (full digest where it is
known, else the 8-hex prefix torch-hub style names carry), raises ``MissingWeightsError``
naming the file and the fix. ``SVIBENCH_VERIFY_WEIGHTS=0`` skips hashing (e.g. for the seeded
random weights of the VBench parity check, which are not the published files).
"""

from __future__ import annotations

import glob
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomllib

from svibench.errors import ConfigError, MissingWeightsError

# root kinds -> directory
_ROOTS = ("vbench", "torch_hub", "pyiqa", "clip", "hf_hub", "dreamsim")


def _torch_home() -> Path:
    default = Path(os.environ.get("XDG_CACHE_HOME", "~/.cache")).expanduser() / "torch"
    return Path(os.environ.get("TORCH_HOME", default)).expanduser()


def root_dir(kind: str) -> Path:
    """The directory a root kind stands for, honouring the usual environment variables."""
    if kind == "vbench":  # vbench/utils.py CACHE_DIR
        return Path(os.environ.get("VBENCH_CACHE_DIR", "~/.cache/vbench")).expanduser()
    if kind == "torch_hub":
        return _torch_home() / "hub" / "checkpoints"
    if kind == "pyiqa":  # pyiqa/utils/download_util.py DEFAULT_CACHE_DIR
        return _torch_home() / "hub" / "pyiqa"
    if kind == "clip":  # openai-clip clip.load default download_root
        return Path("~/.cache/clip").expanduser()
    if kind == "hf_hub":
        hf_home = Path(os.environ.get("HF_HOME", "~/.cache/huggingface")).expanduser()
        return Path(os.environ.get("HF_HUB_CACHE", hf_home / "hub")).expanduser()
    if kind == "dreamsim":  # dreamsim model.py dreamsim(cache_dir="./models")
        return Path(os.environ.get("SVIBENCH_DREAMSIM_DIR", "models")).expanduser()
    raise ValueError(f"unknown weights root {kind!r} (known: {', '.join(_ROOTS)})")


@dataclass(frozen=True)
class Location:
    """One place a file may be: a root kind plus a relative path (may hold a ``*`` glob)."""

    root: str
    rel: str
    fmt: str  # how the loader reads it: torchscript_clip | state_dict | open_clip | ...

    def matches(self) -> list[Path]:
        pattern = str(root_dir(self.root) / self.rel)
        return sorted(Path(p) for p in glob.glob(pattern)) if "*" in self.rel else [Path(pattern)]


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
    source: str  # "svibench.toml" | "SVIBENCH_WEIGHTS_DIR" | root kind


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
    "(./models for `dreamsim(pretrained=True)`, or $SVIBENCH_DREAMSIM_DIR)"
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


_HASH_MEMO: dict[tuple[str, int, float], str] = {}


def sha256_file(path: Path) -> str:
    """sha256 of a file, memoised per (path, size, mtime) within the process."""
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime)
    if key not in _HASH_MEMO:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        _HASH_MEMO[key] = h.hexdigest()
    return _HASH_MEMO[key]


def load_toml_paths(config: str | os.PathLike | None = None) -> dict[str, Any]:
    """``[paths.weights]`` of ``svibench.toml`` (cwd by default); {} when there is none."""
    path = Path(config) if config is not None else Path("svibench.toml")
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML: {e}") from e
    table = data.get("paths", {}).get("weights", {})
    if isinstance(table, str):  # `[paths] weights = "DIR"`: one folder searched first
        return {"_dir": table} if table else {}
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [paths] weights must be a folder or a table, got {table!r}")
    return table


def fix_hint(spec: WeightSpec) -> str:
    return (
        f"fix: `svibench weights fetch {spec.name}` on a machine with internet (or download "
        f'{spec.url} yourself), or set [paths.weights] {spec.name} = "/path/to/{spec.filename}" '
        "in svibench.toml"
    )


def spec(name: str) -> WeightSpec:
    if name not in CATALOGUE:
        raise ConfigError(f"unknown weights '{name}' (known: {', '.join(sorted(CATALOGUE))})")
    return CATALOGUE[name]


def candidates(
    name: str, overrides: Mapping[str, Any] | None = None
) -> list[tuple[Path, str, str]]:
    """Every (path, format, source) that ``resolve`` would try, in order."""
    s = spec(name)
    out: list[tuple[Path, str, str]] = []
    ov = (overrides or {}).get(name)
    if ov is not None:
        p = ov.get("path") if isinstance(ov, dict) else ov
        fmt = ov.get("format", s.fmt) if isinstance(ov, dict) else s.fmt
        if not isinstance(p, str):
            raise ConfigError(f"svibench.toml [paths.weights] {name}: expected a path, got {ov!r}")
        out.append((Path(p).expanduser(), fmt, "svibench.toml"))
    folder = (overrides or {}).get("_dir")
    if folder:
        out.append((Path(folder).expanduser() / s.filename, s.fmt, "svibench.toml [paths] weights"))
    flat = os.environ.get("SVIBENCH_WEIGHTS_DIR")
    if flat:
        out.append((Path(flat).expanduser() / s.filename, s.fmt, "SVIBENCH_WEIGHTS_DIR"))
    for loc in s.locations:
        out.extend((p, loc.fmt, loc.root) for p in loc.matches())
    return out


def verify(resolved: Resolved, pinned: str | None = None) -> None:
    """Raise MissingWeightsError if the file's sha256 disagrees with what is expected."""
    s = resolved.spec
    want = pinned or (s.sha256 if resolved.fmt == s.fmt else None)
    prefix = s.sha256_prefix if resolved.fmt == s.fmt and resolved.path.name == s.filename else None
    if resolved.fmt == "raft_torchvision":
        prefix = "22a6c225"  # torchvision's file name carries its own prefix
    if not (want or prefix):
        return
    got = sha256_file(resolved.path)
    if (want and got != want) or (prefix and not got.startswith(prefix)):
        raise MissingWeightsError(
            f"weights '{s.name}': {resolved.path} has sha256 {got[:16]}..., expected "
            f"{(want or prefix)[:16]}...; {fix_hint(s)} (or SVIBENCH_VERIFY_WEIGHTS=0 to skip)"
        )


def resolve(
    name: str,
    overrides: Mapping[str, Any] | None = None,
    check_hash: bool | None = None,
) -> Resolved:
    """The first existing file for ``name``; MissingWeightsError (exit 2) if there is none."""
    s = spec(name)
    if overrides is None:
        overrides = load_toml_paths()
    tried = candidates(name, overrides)
    for path, fmt, source in tried:
        if path.is_file():
            r = Resolved(s, path, fmt, source)
            if check_hash if check_hash is not None else _verify_enabled():
                ov = overrides.get(name)
                verify(r, ov.get("sha256") if isinstance(ov, dict) else None)
            return r
    looked = ", ".join(str(p) for p, _, _ in tried) or "nowhere"
    raise MissingWeightsError(
        f"weights '{s.name}' ({s.filename}) not found; looked in: {looked}; {fix_hint(s)}"
    )


def fetch(name: str, dest_root: str = "vbench") -> Path:
    """Download the published file into the first location of ``dest_root`` kind.

    Only ever called by the user (``svibench weights fetch``); never in tests or runs.
    """
    import shutil
    import tempfile
    import urllib.request
    import zipfile

    s = spec(name)
    loc = next((x for x in s.locations if x.root == dest_root and x.fmt == s.fmt), s.locations[0])
    dst = root_dir(loc.root) / loc.rel
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
    verify(Resolved(s, dst, loc.fmt, loc.root))
    return dst

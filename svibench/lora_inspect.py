"""``svibench weights inspect FILE``: what a LoRA file holds, from its safetensors header only.

A safetensors file starts with an 8-byte little-endian header length and a JSON header naming
every tensor with its dtype and shape; the tensor data is never read, so a 1.2 GB SVI LoRA is
inspected in milliseconds without a GPU. Every key is read by ``classify_key``, the function
the loader uses, so "loadable" here means the generator will accept the file.
"""

from __future__ import annotations

import json
import struct
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from svibench.errors import ConfigError
from svibench.generators.lora import LoraKey, classify_key

_MAX_HEADER = 100 * 1024 * 1024  # safetensors' own limit


def read_header(path: str | Path) -> tuple[dict[str, dict], dict[str, str]]:
    """(tensors: name -> {dtype, shape, data_offsets}, metadata) of a .safetensors file."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise ConfigError(f"{path}: not a safetensors file (shorter than 8 bytes)")
            (n,) = struct.unpack("<Q", head)
            if n > _MAX_HEADER or n > path.stat().st_size - 8:
                raise ConfigError(f"{path}: not a safetensors file (header length {n})")
            raw = f.read(n)
    except OSError as e:
        raise ConfigError(f"{path}: cannot read ({e.strerror})") from None
    try:
        header = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ConfigError(f"{path}: not a safetensors file (header is not JSON)") from None
    if not isinstance(header, dict):
        raise ConfigError(f"{path}: not a safetensors file (header is not a table)")
    meta = header.pop("__metadata__", None) or {}
    return header, {str(k): str(v) for k, v in meta.items()}


@dataclass
class LoraReport:
    path: str
    tensors: int = 0
    bytes: int = 0
    dtypes: Counter = field(default_factory=Counter)
    prefixes: Counter = field(default_factory=Counter)
    spellings: Counter = field(default_factory=Counter)
    adapters: Counter = field(default_factory=Counter)
    ranks: Counter = field(default_factory=Counter)
    modules: Counter = field(default_factory=Counter)  # Wan module -> number of blocks
    blocks: set = field(default_factory=set)
    alphas: int = 0  # alpha tensors (their values are data, not header: not read)
    other: list = field(default_factory=list)
    problems: list = field(default_factory=list)
    metadata: dict = field(default_factory=dict)

    @property
    def loadable(self) -> bool:
        return not self.problems and self.modules.total() > 0

    def lines(self) -> list[str]:
        """Human-readable summary (the CLI prints these)."""
        mb = self.bytes / 2**20
        out = [
            f"file: {self.path}",
            f"tensors: {self.tensors} ({mb:.1f} MiB; {_fmt(self.dtypes)})",
            f"key prefix: {_fmt(self.prefixes) or '(none)'}",
            f"layout: {_fmt(self.spellings) or '-'}"
            + (f"; adapter name {_fmt(self.adapters)}" if self.adapters else ""),
            f"rank: {_fmt(self.ranks) or '-'}",
            f"blocks: {_blocks(self.blocks)}",
            "modules: " + (", ".join(f"{m} ({n})" for m, n in sorted(self.modules.items())) or "-"),
        ]
        if self.alphas:
            out.append(
                f"alpha: {self.alphas} tensors, ignored (upstream merges B @ A with scale "
                "lora_alpha = 1 and no alpha/rank; ComfyUI-style loaders would scale by alpha/rank)"
            )
        if self.other:
            out.append(
                f"not LoRA: {len(self.other)} tensors ignored (as upstream), e.g. {self.other[0]}"
            )
        for key in ("format", "ss_network_dim", "ss_network_alpha"):
            if key in self.metadata:
                out.append(f"metadata {key}: {self.metadata[key]}")
        if self.loadable:
            out.append('svibench can load it: yes (kind = "svi" or "wan-chained", key lora)')
        else:
            out.append("svibench can load it: NO")
            out += [f"  {p}" for p in self.problems[:10]]
            if len(self.problems) > 10:
                out.append(f"  … and {len(self.problems) - 10} more")
        return out


def _fmt(c: Counter) -> str:
    return ", ".join(f"{k} ×{n}" for k, n in c.most_common())


def _blocks(blocks: set) -> str:
    if not blocks:
        return "-"
    lo, hi = min(blocks), max(blocks)
    gaps = "" if len(blocks) == hi - lo + 1 else f", {hi - lo + 1 - len(blocks)} missing"
    return f"{len(blocks)} ({lo}..{hi}{gaps})"


def inspect_lora(path: str | Path) -> LoraReport:
    """Summarise a LoRA file from its header: layout, rank, targets, and whether it loads."""
    header, meta = read_header(path)
    report = LoraReport(str(path), metadata=meta)
    factors: dict[tuple[str, str], dict] = {}
    for name, info in header.items():
        shape = list(info.get("shape", []))
        report.tensors += 1
        start, end = info.get("data_offsets", [0, 0])
        report.bytes += int(end) - int(start)
        report.dtypes[info.get("dtype", "?")] += 1
        k = classify_key(name)
        if k.kind == "other":
            report.other.append(name)
            continue
        report.prefixes[k.prefix or "(none)"] += 1
        if k.kind == "bad":
            report.problems.append(f"{name}: {k.problem}")
        elif k.kind == "alpha":
            report.alphas += 1
        else:
            _add_factor(report, factors, k, shape)
    _check_pairs(report, factors)
    if not factors and not report.problems:
        report.problems.append("no LoRA factors (lora_A/lora_B or lora_down/lora_up) found")
    return report


def _add_factor(report: LoraReport, factors: dict, k: LoraKey, shape: list) -> None:
    report.spellings[k.spelling] += 1
    if k.adapter:
        report.adapters[k.adapter] += 1
    slot = factors.setdefault((k.target, k.module), {})
    if k.side in slot:
        report.problems.append(f"{k.key}: a second {k.side} factor for {k.target}")
    slot[k.side] = (k.key, shape, k.block)


def _check_pairs(report: LoraReport, factors: dict) -> None:
    for (target, module), slot in sorted(factors.items()):
        if set(slot) != {"A", "B"}:
            missing = "B (up)" if "A" in slot else "A (down)"
            report.problems.append(f"{target}: factor {missing} missing")
            continue
        (_, a, block), (_, b, _) = slot["A"], slot["B"]
        if len(a) != 2 or len(b) != 2 or a[0] != b[1]:
            report.problems.append(f"{target}: A {a} and B {b} are not (r, in) and (out, r)")
            continue
        report.ranks[a[0]] += 1
        report.modules[module] += 1
        report.blocks.add(block)

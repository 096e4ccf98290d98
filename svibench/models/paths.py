"""Find model folders and files offline: a local path, or a repo id in the Hugging Face cache.

Nothing is ever downloaded here: a missing model raises ``MissingWeightsError`` naming the
repository id and the command that fetches it.
"""

from __future__ import annotations

from pathlib import Path

from svibench.errors import MissingWeightsError


def _hint(repo_id: str, filename: str | None = None) -> str:
    what = f"{repo_id} {filename}" if filename else repo_id
    return f"get it with: hf download {what}"


def _looks_like_path(ref: str) -> bool:
    return ref.startswith((".", "/", "~")) or Path(ref).expanduser().exists()


def resolve_model_dir(ref: str, where: str) -> Path:
    """Folder of a diffusers model: ``ref`` is a local folder or a HF repo id (cache only)."""
    path = Path(ref).expanduser()
    if path.is_dir():
        return path
    if _looks_like_path(ref):
        raise MissingWeightsError(f"{where}: model folder {path} does not exist")
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo_id=ref, local_files_only=True))
    except Exception as e:  # LocalEntryNotFoundError, HFValidationError, ...
        raise MissingWeightsError(
            f"{where}: model '{ref}' is not a local folder and not in the Hugging Face cache "
            f"({type(e).__name__}); {_hint(ref)}"
        ) from None


def resolve_file(ref: str, filename: str, where: str) -> Path:
    """One file: ``ref`` is the file itself, a folder holding ``filename``, or a HF repo id."""
    path = Path(ref).expanduser()
    if path.is_file():
        return path
    if path.is_dir():
        if (path / filename).is_file():
            return path / filename
        raise MissingWeightsError(f"{where}: {path / filename} does not exist")
    if _looks_like_path(ref):
        raise MissingWeightsError(f"{where}: {path} does not exist")
    from huggingface_hub import hf_hub_download

    try:
        return Path(hf_hub_download(repo_id=ref, filename=filename, local_files_only=True))
    except Exception as e:
        raise MissingWeightsError(
            f"{where}: file '{filename}' of '{ref}' is not in the Hugging Face cache "
            f"({type(e).__name__}); {_hint(ref, filename)}"
        ) from None

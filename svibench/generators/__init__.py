"""Generators: turn a case (reference image + prompt stream) into clips, one at a time."""

from svibench.generators.base import Generator, Session, check_frames
from svibench.generators.registry import GENERATORS

__all__ = ["GENERATORS", "Generator", "Session", "check_frames"]

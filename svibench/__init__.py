"""svibench."""

import logging as _logging


class _DropKernelsHint(_logging.Filter):
    """bitsandbytes (pulled in by diffusers/peft) warns on every CPU import that an optional
    ``kernels`` package is missing; svibench never uses 4-bit CPU kernels, so the hint is noise."""

    def filter(self, record: _logging.LogRecord) -> bool:
        return "pip install kernels" not in str(record.msg)


_logging.getLogger("bitsandbytes.backends.cpu.ops").addFilter(_DropKernelsHint())

# numpy-2 compat aliases for VBench 0.1.5's pinned deps (imgaug 0.4.0 reads np.sctypes at
# import). Names only, no behaviour change; used on the device machine, whose scipy needs numpy 2.
import numpy as np

if not hasattr(np, "sctypes"):
    np.sctypes = {
        "int": [np.int8, np.int16, np.int32, np.int64],
        "uint": [np.uint8, np.uint16, np.uint32, np.uint64],
        "float": [np.float16, np.float32, np.float64, np.longdouble],
        "complex": [np.complex64, np.complex128, np.clongdouble],
        "others": [bool, object, bytes, str, np.void],
    }
for old, new in [
    ("NaN", "nan"),
    ("Inf", "inf"),
    ("float_", "float64"),
    ("complex_", "complex128"),
    ("product", "prod"),
    ("string_", "bytes_"),
    ("unicode_", "str_"),
    ("infty", "inf"),
]:
    if not hasattr(np, old):
        setattr(np, old, getattr(np, new))

"""The payload format of the result store: what ``torch.load(weights_only=True)`` reads back.

``torch.load`` with ``weights_only=True`` rebuilds only tensors and plain containers, so reading a
payload cannot execute code, whatever the file holds.  :func:`encode` turns a payload into that
form (numpy arrays and scalars become tensors tagged with their exact dtype) and refuses anything
else when *writing*; :func:`decode` is its exact inverse.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

TAG = "__replication_store__"
_PLAIN = (bool, int, float, complex, str, bytes, type(None))


def encode(value: Any, where: str = "payload") -> Any:
    """``value`` as tensors and plain containers only (what ``torch.load(weights_only=True)`` reads).

    numpy arrays and numpy scalars become ``{TAG: "ndarray"|"npscalar", "dtype", "data": tensor}``
    (string arrays: ``"items"`` lists); dicts (keys: plain values or tuples of them), lists and
    tuples keep their type; tensors are detached and kept; anything else raises ``TypeError``."""
    import numpy as np
    import torch

    if type(value) in _PLAIN:
        return value
    if isinstance(value, torch.Tensor):
        t = value.detach()
        if t.untyped_storage().nbytes() > t.numel() * t.element_size():
            t = t.clone()                       # a view: do not save the whole storage
        return t
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "US":
            return {TAG: "ndarray-str", "dtype": value.dtype.str, "shape": list(value.shape),
                    "items": value.ravel().tolist()}
        if value.dtype.kind not in "biufc":
            raise TypeError(f"{where}: numpy array of dtype {value.dtype} cannot be stored safely")
        native = np.array(value, dtype=value.dtype.newbyteorder("="), order="C", copy=True)  # keeps 0-d
        return {TAG: "ndarray", "dtype": value.dtype.str, "data": torch.from_numpy(native)}
    if isinstance(value, np.generic):
        return {TAG: "npscalar", "dtype": value.dtype.str, "data": encode(np.asarray(value), where)["data"]}
    if type(value) in (dict,) or type(value).__name__ == "OrderedDict" and isinstance(value, dict):
        out = type(value)()
        for k, v in value.items():
            if k == TAG or not (type(k) in _PLAIN or (type(k) is tuple and all(type(x) in _PLAIN for x in k))):
                raise TypeError(f"{where}: key {k!r} cannot be stored (keys are plain values)")
            out[k] = encode(v, f"{where}[{k!r}]")
        return out
    if type(value) in (list, tuple):
        return type(value)(encode(v, f"{where}[{i}]") for i, v in enumerate(value))
    raise TypeError(f"{where}: a {type(value).__name__} cannot be stored; payloads hold tensors, numpy "
                    "arrays and scalars, numbers, strings, None, and dicts, lists, tuples of them")


def decode(value: Any) -> Any:
    """The inverse of :func:`encode`."""
    import numpy as np

    if isinstance(value, dict):
        tag = value.get(TAG)
        if tag == "ndarray":
            return value["data"].numpy().astype(np.dtype(value["dtype"]), copy=False)
        if tag == "npscalar":
            return value["data"].numpy().astype(np.dtype(value["dtype"]), copy=False)[()]
        if tag == "ndarray-str":
            return np.array(value["items"], dtype=np.dtype(value["dtype"])).reshape(value["shape"])
        return type(value)((k, decode(v)) for k, v in value.items())
    if type(value) in (list, tuple):
        return type(value)(decode(v) for v in value)
    return value


def save_payload(payload: Any, path: Path) -> None:
    import torch

    encoded = encode(payload)
    with open(path, "wb") as f:
        torch.save(encoded, f)
        f.flush()
        os.fsync(f.fileno())


def load_payload(path: Path) -> Any:
    """Read a payload file; ``weights_only=True``: no code runs, whatever the file holds."""
    import torch

    return decode(torch.load(path, map_location="cpu", weights_only=True))



"""One search for a dataset's files, shared by :mod:`.idx` and :mod:`.cifar`: places tried in order,
a download as the last of them, and one not-found error listing what each place held.

A loader numbers the places it looks in (the verified cache, the local mirror, ...), records in a
:class:`Search` what each held (:meth:`Search.note`), and ends with :meth:`Search.download`: unless
downloads are off, the dataset's download seam fills a temporary folder under
``paths.data_root()``, the loader takes (and verifies, caching what verifies) what it needs from it,
and the folder is removed whatever happened.  A file that does not verify stops the search
(``DataVerificationError``, as do interrupts); any other failure of the download (no network,
torchvision missing, mirrors down) is noted and the search goes on to :meth:`Search.not_found`.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Sequence

from .. import paths
from .verify import DataVerificationError, DatasetNotFoundError, _env_offline, _seam, _short


def downloads_off_because() -> str:
    """Why a load may not download: the environment, else the caller's ``allow_download=False``."""
    return "REPLICATION_OFFLINE=1" if _env_offline() else "allow_download=False"


class Search:
    """What one load of ``name`` searched, in order, for the message when nothing held it."""

    def __init__(self, name: str):
        self.name = name
        self.searched: list[str] = []

    def note(self, line: str) -> None:
        """One place searched, numbered by the caller (``"2. local mirror: ..."``)."""
        self.searched.append(line)

    def download(self, step: int, spec: Any, seam: str, allow_download: bool,
                 take: Callable[[Path], tuple[Any, Sequence[str]]]) -> Any:
        """Place ``step``: the download.  ``replication.data.<seam>(spec, tmp)`` downloads into a
        temporary folder and returns the folder holding the files; ``take(folder)`` returns
        ``(result, missing)``: what the loader made of it and the files it still lacks.  Returns
        ``result`` when nothing is missing, else ``None`` with the reason noted."""
        if not allow_download:
            self.note(f"{step}. download: disabled ({downloads_off_because()})")
            return None
        paths.data_root().mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".download-{spec.folder}-", dir=paths.data_root()))
        try:
            result, missing = take(_seam(seam)(spec, tmp))
            if not missing:
                return result
            self.note(f"{step}. download: finished but {', '.join(missing)} not found in it")
        except (DataVerificationError, KeyboardInterrupt):
            raise
        except Exception as e:  # network errors, torchvision missing, mirrors down, ...
            self.note(f"{step}. download: failed ({type(e).__name__}: {_short(e)})")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return None

    def not_found(self, what: str, fixes: str) -> DatasetNotFoundError:
        """The error when no place held the dataset: ``what`` is missing, every place searched, the fixes."""
        return DatasetNotFoundError(f"{self.name}: dataset not found ({what}). Searched, in order:\n  "
                                    + "\n  ".join(self.searched) + f"\nTo fix: {fixes}.")

"""``runners.cli.main`` whose checkpoint writes are slow, for tests/test_signals.py.

Each ``torch.save`` into a ``latest.pt`` temp file says so on stderr, then sleeps ``ARENA_TEST_SAVE_SECONDS``
(default 1.5) before ``atomic_save`` flushes and renames it, so a test can signal in the middle of a write.
Run as ``python tests/slow_save_cli.py train ...`` from the repository root.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script: the repo root is importable

import torch  # noqa: E402

from runners.cli.main import main  # noqa: E402

_save = torch.save


def slow_save(obj: Any, f: Any, *args: Any, **kwargs: Any) -> None:
    _save(obj, f, *args, **kwargs)
    name = str(getattr(f, "name", f))
    if "latest.pt" in name:
        print(f"slow-save: writing {name}", file=sys.stderr, flush=True)
        time.sleep(float(os.environ.get("ARENA_TEST_SAVE_SECONDS", "1.5")))


torch.save = slow_save

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Run one `mlci` command in a fresh interpreter with its main thread's stack sampled from the
start (imports included); print where the time went as JSON.

    python _sampled_process.py OUT.json ARG...     (in the repository to check)

Each sample (every 2 ms) is put in one part:

- ``import DVC and its libraries``: the import machinery is running a module that is not mlci's
  and not one of the few libraries only mlci uses (``MLCI_LIBS``), or a standard-library
  module that one of those imports;
- ``import mlci``: it is running one of mlci's modules or of ``MLCI_LIBS``, or a
  standard-library module that mlci's code imports (first: mlci loads before DVC, so standard
  modules DVC needs too are charged here, and this share is an upper bound);
- ``git``: mlci (or DVC) waits for a ``git`` process;
- ``DVC's work``: a frame of DVC's packages or of mlci's DVC adapter is on the stack;
- ``mlci's work``: the rest (config, notes, comparing, rendering).

OUT.json also lists the modules the command imported that the interpreter had not, for
measuring what importing them alone costs.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time

MLCI_LIBS = ("click", "yaml", "jinja2", "markupsafe", "jsonschema", "referencing", "rpds")
DVC_CODE = ("mlci/adapters/dvc/", "site-packages/dvc", "/scmrepo/")


def part(frame) -> str:  # type: ignore[no-untyped-def]
    files = []
    while frame is not None:
        files.append((frame.f_code.co_filename, frame.f_code.co_name))
        frame = frame.f_back
    if any("importlib._bootstrap" in name for name, _ in files):
        # innermost first: the first module being executed that is not the standard library's
        # decides (a standard module is charged to whoever imported it)
        for name, code in files:
            mine = "/mlci/" in name and "site-packages" not in name
            if "site-packages/" not in name and not mine:
                continue
            lib = name.split("site-packages/")[-1].split("/")[0].removesuffix(".py")
            if code == "<module>" or mine:
                return "import mlci" if mine or lib in MLCI_LIBS else "import DVC and its libraries"
        return "import DVC and its libraries"
    if any(name.endswith("subprocess.py") for name, _ in files):
        return "git"
    if any(dvc in name for name, _ in files for dvc in DVC_CODE):
        return "DVC's work"
    return "mlci's work"


class Sampler:
    """Samples the stack of the thread that makes it, every ``every`` seconds, from
    :meth:`start` to :meth:`stop`; ``part`` names each sample from its innermost frame.
    Standard library only, so that a fresh interpreter can start it before importing
    anything else (``benchmarks/_common.py`` uses it in process too)."""

    def __init__(self, part, every: float = 0.002) -> None:  # type: ignore[no-untyped-def]
        self._part, self._every = part, every
        self._me = threading.get_ident()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.counts: dict[str, int] = {}

    def _run(self) -> None:
        while not self._done.wait(self._every):
            frame = sys._current_frames().get(self._me)
            if frame is not None:
                name = self._part(frame)
                self.counts[name] = self.counts.get(name, 0) + 1

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> dict[str, int]:
        self._done.set()
        self._thread.join()
        return self.counts


def main() -> None:
    out, argv = sys.argv[1], sys.argv[2:]
    before = set(sys.modules)
    sampler = Sampler(part)
    start = time.perf_counter()
    sampler.start()
    from mlci.cli import main as mlci_main

    with open(os.devnull, "w") as null:
        sys.stdout = null
        try:
            mlci_main(argv)
        except SystemExit:
            pass
        finally:
            sys.stdout = sys.__stdout__
    counts = sampler.stop()
    imported = [m for m in sys.modules if m not in before and not m.startswith("mlci")]
    with open(out, "w") as f:
        json.dump(
            {"seconds": time.perf_counter() - start, "parts": counts, "imported": imported}, f
        )


if __name__ == "__main__":
    main()

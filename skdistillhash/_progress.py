"""Progress of long work when ``verbose`` is set: a tqdm bar on a terminal and in
a notebook (``tqdm.auto`` draws a widget there); in a log file, where a bar
redrawn with carriage returns would make one endless line, a line at each tenth."""

from __future__ import annotations

import sys
import time

from tqdm.auto import tqdm


def progress(total: int, desc: str, unit: str, *, enabled: bool = True, stream=None):
    """A progress report over ``total`` units: ``update(n)``, ``set_postfix(**values)``,
    ``close()``; a context manager. Nothing is written when not ``enabled``."""
    if not enabled:
        return _Silent()
    stream = sys.stderr if stream is None else stream
    if tqdm.__module__ == "tqdm.notebook" or getattr(stream, "isatty", lambda: False)():
        return tqdm(total=total, desc=desc, unit=unit, file=stream, dynamic_ncols=True)
    return _LogLines(total, desc, unit, stream)


class _LogLines:
    """tqdm's interface, written as a line at each tenth of the total."""

    def __init__(self, total: int, desc: str, unit: str, stream):
        self.total, self.desc, self.unit, self.stream = total, desc, unit, stream
        self.n, self.tenths, self.postfix = 0, 0, ""
        self.tic = time.perf_counter()

    def update(self, n: int = 1) -> None:
        self.n += n
        if self.total and 10 * self.n // self.total > self.tenths:
            self.tenths = 10 * self.n // self.total
            self._line()

    def set_postfix(self, **values) -> None:
        self.postfix = "".join(f"  {name} {value}" for name, value in values.items())

    def close(self) -> None:
        # Work that ends before its total (early stopping) still says where.
        if self.n < self.total:
            self._line()
        self.total = 0

    def _line(self) -> None:
        elapsed = time.perf_counter() - self.tic
        self.stream.write(f"{self.desc}: {self.n}/{self.total} {self.unit}  {elapsed:.1f}s{self.postfix}\n")
        self.stream.flush()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _Silent:
    """A progress report that writes nothing."""

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix(self, **values) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass

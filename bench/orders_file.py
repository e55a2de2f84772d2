"""``scrm predict evaluate --orders`` against hostile files: peak memory and time of the reader.

Writes two files to a temporary directory — a 145 KB gzip of 150 MB of zeros (one endless "line")
and 6,000,000 valid CDNOW rows (about 1 MB gzip) — and reads each with ``read_orders_file`` in a
fresh process, printing the outcome, the seconds and the peak RSS (``getrusage``). ``--old FILE``
reads with another ``predict/history.py`` (e.g. ``git show REV:predict/history.py > old.py``).

    .venv/bin/python -m bench.orders_file [--old old.py] [--rows 6000000]
"""

from __future__ import annotations

import argparse
import gzip
import subprocess
import sys
import tempfile
from pathlib import Path

_READ = """
import importlib.util, resource, sys, time
from pathlib import Path
source, path = sys.argv[1], Path(sys.argv[2])
if source:
    spec = importlib.util.spec_from_file_location("history_under_test", source)
    module = importlib.util.module_from_spec(spec)
    sys.modules["history_under_test"] = module
    spec.loader.exec_module(module)
else:
    import predict.history as module
started = time.perf_counter()
try:
    outcome = f"read {module.read_orders_file(path).size} customers"
except Exception as err:
    outcome = f"{type(err).__name__}: {str(err)[:80]}"
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"{path.name}: {outcome}; {time.perf_counter() - started:.1f} s; peak RSS {peak:.0f} MB")
"""


def _write_files(directory: Path, rows: int) -> None:
    (directory / "zeros.txt.gz").write_bytes(gzip.compress(b"0" * 150_000_000, 9))
    block = b"".join(b"%05d 19970101 1 11.77\n" % (i % 1000) for i in range(20_000))
    (directory / "rows.txt.gz").write_bytes(gzip.compress(block * (rows // 20_000), 9))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", default="", help="a predict/history.py to read with instead of this tree's")
    parser.add_argument("--rows", type=int, default=6_000_000)
    parser.add_argument("--write-to", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write_to:
        _write_files(Path(args.write_to), args.rows)
        return
    with tempfile.TemporaryDirectory() as tmp:
        # Written by another process: Linux keeps a process's peak RSS across fork and exec, so the
        # readers below must not descend from one that held 150 MB.
        subprocess.run([sys.executable, "-m", "bench.orders_file", "--rows", str(args.rows), "--write-to", tmp],
                       check=True)
        for path in (Path(tmp) / "zeros.txt.gz", Path(tmp) / "rows.txt.gz"):
            print(f"{path.name}: {path.stat().st_size / 1000:.0f} KB gzip", flush=True)
            subprocess.run([sys.executable, "-c", _READ, args.old, str(path)], check=True)


if __name__ == "__main__":
    main()

"""``make lock-hashes``: requirements.lock, the runtime dependencies pinned with their sha256 hashes.

Reads the directory ``pip download -c constraints.txt -d DIR .`` filled (the wheels, or sdists, this
machine's Python and platform install) and prints one requirement per package, ``name==version`` with a
``--hash=sha256:…`` per file, as ``pip install --require-hashes`` expects. The hashes are pip's own
(``pip hash`` computes the same sha256). docs/dependencies.md says how to install with it.
"""

from __future__ import annotations

import hashlib
import re
import sys
from collections import defaultdict
from pathlib import Path

HEADER = """\
# The runtime dependencies at constraints.txt's versions, each file with its sha256: a production install
# refuses anything else (pip install --require-hashes --no-deps -r requirements.lock). Written by
# `make lock-hashes` for CPython 3.11 on linux x86_64 (the Docker image); docs/dependencies.md.
"""
_SDIST = re.compile(r"^(?P<name>.+)-(?P<version>[^-]+)\.(tar\.gz|zip)$")


def name_and_version(filename: str) -> tuple[str, str]:
    """``aiohttp-3.14.5-cp311-….whl`` → ("aiohttp", "3.14.5"); sdists too. Names normalised (PEP 503)."""
    if filename.endswith(".whl"):
        name, version = filename.split("-")[:2]
    else:
        found = _SDIST.match(filename)
        if found is None:
            raise SystemExit(f"lock_hashes: {filename}: neither a wheel nor an sdist")
        name, version = found["name"], found["version"]
    return re.sub(r"[-_.]+", "-", name).lower(), version


def lock(directory: Path) -> str:
    hashes: dict[tuple[str, str], list[str]] = defaultdict(list)
    for path in sorted(directory.iterdir()):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        hashes[name_and_version(path.name)].append(digest)
    if not hashes:
        raise SystemExit(f"lock_hashes: nothing in {directory}")
    lines = [HEADER]
    for (name, version), digests in sorted(hashes.items()):
        lines.append(f"{name}=={version} \\\n" + " \\\n".join(f"    --hash=sha256:{d}" for d in digests) + "\n")
    return "".join(lines)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python deploy/lock_hashes.py DIRECTORY")
    sys.stdout.write(lock(Path(sys.argv[1])))

"""The shipped image starts: its files are assembled from the Dockerfile alone, installed as its build
stage installs them, and the app is started from them with nothing of this checkout on the path.

Docker does not run here, so the test reads the Dockerfile as Docker would: the build stage's
``COPY`` lines (filtered by ``.dockerignore``) give the build context, ``pip install .`` keeps the
packages ``pyproject.toml`` finds (with their package data), and ``python -S`` runs them with the
dependencies' site-packages but not this checkout's editable install.
"""

from __future__ import annotations

import fnmatch
import os
import shlex
import shutil
import subprocess
import sysconfig
import tomllib
from pathlib import Path

from tests.conftest import AGENT_ID, CORP_ID, SECRET, no_backend
from tests.support.process import scrm_process

pytestmark = no_backend

ROOT = Path(__file__).resolve().parent.parent
# Valid-looking values of our own for the start (not Tencent's sample ones).
TOKEN = "ImageTestToken0123456789"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


def _instructions(dockerfile: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    lines: list[tuple[str, str]] = []
    pending = ""
    for raw in dockerfile.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        word, _, rest = line.partition(" ")
        lines.append((word.upper(), rest.strip()))
    return lines


def _ignored(relative: str, patterns: list[str]) -> bool:
    """.dockerignore semantics for what this repository uses: paths, globs, ``**/``, ``!`` exceptions."""
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.removeprefix("!").strip("/")
        candidates = [pattern, pattern.removeprefix("**/")] if pattern.startswith("**/") else [pattern]
        parts = relative.split("/")
        for candidate in candidates:
            anywhere = pattern.startswith("**/")
            prefixes = ["/".join(parts[i:j]) for i in range(len(parts) if anywhere else 1)
                        for j in range(i + 1, len(parts) + 1)]
            if any(fnmatch.fnmatchcase(prefix, candidate) for prefix in prefixes):
                ignored = not negate
    return ignored


def _context(root: Path) -> list[str]:
    patterns = [line.strip() for line in (root / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=root,
                           check=True, capture_output=True, text=True).stdout.splitlines()
    return [name for name in files if (root / name).is_file() and not _ignored(name, patterns)]


def assemble_build_context(root: Path, into: Path) -> Path:
    """The files the build stage holds after its COPY lines (the stage that runs ``pip install``);
    returns the folder ``pip install .`` runs in (the stage's WORKDIR)."""
    stage: list[tuple[str, str]] = []
    for word, rest in _instructions((root / "Dockerfile").read_text()):
        if word == "FROM":
            stage = []
        stage.append((word, rest))
        if word == "RUN" and "pip install" in rest:
            break
    else:
        raise AssertionError("the Dockerfile has no stage that runs pip install")
    context = _context(root)
    workdir = Path("/")
    for word, rest in stage:
        if word == "WORKDIR":
            workdir = workdir / rest
        if word != "COPY" or "--from" in rest:
            continue
        *sources, dest = shlex.split(rest)
        target = into / (workdir / dest).relative_to("/")
        for source in sources:
            source = source.rstrip("/") or "."
            for name in context:
                if source == "." or name == source or name.startswith(source + "/"):
                    relative = name if source == "." else name[len(source):].lstrip("/") or Path(name).name
                    (target / relative).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(root / name, target / relative)
    return into / workdir.relative_to("/")


def install_like_pip(project: Path, into: Path) -> list[str]:
    """What ``pip install .`` puts in site-packages: the packages setuptools finds, their package data."""
    from setuptools import find_packages

    config = tomllib.loads((project / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = config.get("packages", {}).get("find", {})
    packages = find_packages(where=str(project), include=found.get("include", ["*"]), exclude=found.get("exclude", ()))
    package_data: dict[str, list[str]] = config.get("package-data", {})
    for package in packages:
        source = project / package.replace(".", "/")
        target = into / package.replace(".", "/")
        target.mkdir(parents=True, exist_ok=True)
        for path in source.iterdir():
            if path.is_file() and path.suffix == ".py":
                shutil.copy2(path, target / path.name)
        for pattern in package_data.get(package, []):
            for path in source.glob(pattern):
                if path.is_file():
                    (target / path.relative_to(source)).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(path, target / path.relative_to(source))
    return packages


async def test_the_image_built_from_the_dockerfile_starts_the_app(tmp_path: Path) -> None:
    build = assemble_build_context(ROOT, tmp_path / "build")
    site = tmp_path / "site-packages"
    packages = install_like_pip(build, site)
    assert "bot" in packages and "config" in packages
    for name in ("tests", "bench"):
        assert not (site / name).exists(), f"{name}/ must not be in the image"

    home = tmp_path / "home"  # the image's WORKDIR: nothing of the project is there
    home.mkdir()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        # -S: no site-packages processing, so this checkout's editable install is not on the path;
        # the dependencies come from the venv's site-packages, the project from the assembled copy.
        "PYTHONPATH": os.pathsep.join([str(site), sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]),
        "WECOM_CORP_ID": CORP_ID, "WECOM_AGENT_ID": str(AGENT_ID), "WECOM_SECRET": SECRET,
        "WECOM_TOKEN": TOKEN, "WECOM_AES_KEY": AES_KEY, "WECOM_API_BASE": "http://127.0.0.1:9",
        "DATABASE_URL": f"sqlite://{tmp_path / 'scrm.sqlite3'}", "REDIS_URL": "memory://",
        "SCRM_SCHEDULER": "false",
    }
    async with scrm_process("--role", "all", env=env, cwd=home, python_flags=("-S",)) as app:
        assert await app.stop() == 0


def test_the_assembly_sees_what_a_hand_kept_list_leaves_out(tmp_path: Path) -> None:
    """The check can fail: the old Dockerfile, which copied folders by name, left ``boards/`` out."""
    root = tmp_path / "repo"
    for name in _context(ROOT):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, root / name)
    (root / "Dockerfile").write_text(
        "FROM python:3.11-slim\nWORKDIR /app\nCOPY pyproject.toml README.md constraints.txt ./\n"
        "COPY bot ./bot\nCOPY config ./config\nRUN pip install -c constraints.txt .\n"
    )
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    build = assemble_build_context(root, tmp_path / "build")
    packages = install_like_pip(build, tmp_path / "site")
    assert "bot" in packages
    assert "boards" not in packages

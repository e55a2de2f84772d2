"""requirements.lock (``make lock-hashes``) pins what constraints.txt pins, each file with a sha256."""

from __future__ import annotations

import re
from pathlib import Path

from deploy.lock_hashes import name_and_version

REPO = Path(__file__).resolve().parent.parent


def _normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_hashed_lock_agrees_with_the_constraints() -> None:
    constraints = {
        _normalised(name): version
        for name, version in re.findall(r"^([A-Za-z0-9_.\-]+)==(\S+)$", (REPO / "constraints.txt").read_text(), re.M)
    }
    text = (REPO / "requirements.lock").read_text()
    locked = dict(re.findall(r"^([a-z0-9\-]+)==(\S+) \\$", text, re.M))
    assert locked, "requirements.lock pins nothing"
    assert {name: constraints.get(name) for name in locked} == locked  # a runtime subset, same versions
    assert {"wechatpy", "aiohttp", "tortoise-orm", "redis", "pydantic"} <= set(locked)
    for block in text.split("==")[1:]:
        assert re.search(r"--hash=sha256:[0-9a-f]{64}", block)


def test_file_names_give_name_and_version() -> None:
    assert name_and_version("tortoise_orm-1.1.9-py3-none-any.whl") == ("tortoise-orm", "1.1.9")
    assert name_and_version("wechatpy-2.0.0a26-py3-none-any.whl") == ("wechatpy", "2.0.0a26")
    assert name_and_version("Some.Package-1.0.tar.gz") == ("some-package", "1.0")

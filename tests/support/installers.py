"""Real pip and uv, run hermetically: no user or site configuration, no caches shared between tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without anything that points pip or uv elsewhere (config files, find-links, indexes)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PIP_", "UV_", "RENNET_")) and k not in {"VIRTUAL_ENV", "PYTHONPATH"}
    }
    env.update({"PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "UV_NO_CONFIG": "1"})
    env.update(extra)
    return env


def pip_install(
    index_url: str,
    *requirements: str,
    target: Path,
    args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--isolated",
        "--no-cache-dir",
        "--disable-pip-version-check",
        "--index-url",
        index_url,
        "--target",
        str(target),
        "--no-input",
        *args,
        *requirements,
    ]
    return subprocess.run(command, capture_output=True, text=True, env=clean_env(**(env or {})), timeout=300)


def uv_binary() -> str:
    found = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    assert found, "uv is a test dependency: pip install -e '.[test]'"
    return found


def uv_install(
    index_url: str,
    *requirements: str,
    target: Path,
    cache_dir: Path,
    args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    command = [
        uv_binary(),
        "pip",
        "install",
        "--python",
        sys.executable,
        "--target",
        str(target),
        "--index-url",
        index_url,
        "--cache-dir",
        str(cache_dir),
        *args,
        *requirements,
    ]
    return subprocess.run(command, capture_output=True, text=True, env=clean_env(**(env or {})), timeout=300)


def installed_version(target: Path, module: str) -> str | None:
    init = target / module / "__init__.py"
    if not init.exists():
        return None
    scope: dict[str, str] = {}
    exec(init.read_text(), scope)
    return scope.get("__version__")

"""``python -m predarb ...`` as a child process of a test: in the test's own loop (so
the loopback fakes keep answering while it runs), or run to its end."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


async def start_predarb(
    args: Sequence[str], env: Mapping[str, str], cwd: Path
) -> asyncio.subprocess.Process:
    """The child sees this test's environment (which the autouse ``clean_env`` fixture
    has rid of the developer's own settings) plus ``env``; stdout and stderr are piped."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "predarb",
        *args,
        env={**os.environ, **env},
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


def run_predarb(
    args: Sequence[str],
    env: Mapping[str, str] | None = None,
    *,
    cwd: Path,
    timeout: float = 60,
    **popen: Any,
) -> subprocess.CompletedProcess[str]:
    """``python -m predarb ...`` to its end, output captured as text; like
    ``start_predarb``, the child sees this test's (clean) environment plus ``env``. A
    child still running after ``timeout`` fails the test (``TimeoutExpired``)."""
    return subprocess.run(
        [sys.executable, "-m", "predarb", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=timeout,
        **popen,
    )

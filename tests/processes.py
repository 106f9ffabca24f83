"""``python -m predarb ...`` as a child process of a test, in the test's own loop (so
the loopback fakes keep answering while it runs)."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path


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

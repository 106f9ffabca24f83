"""A start that cannot succeed ends the process at once, with one line naming the cause
(systemd's ``Restart=on-failure`` needs it to end; a hung process is never restarted).
Real processes, real SQLite files made unusable the ways a machine makes them so."""

from __future__ import annotations

import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from predarb.config import Settings
from predarb.domain import Venue
from predarb.errors import StartupFailure
from predarb.modes import Mode
from predarb.runner import run_engine
from tests.core.builders import make_database
from tests.fakes.scripted_venue import ScriptedVenue
from tests.processes import run_predarb


def last_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    return stderr.strip().splitlines()[-1]


@pytest.fixture
def read_only() -> Iterator[Callable[[Path], None]]:
    """Makes a file read-only for predarb: by its mode, or, for root (who writes through
    modes), by the immutable attribute."""
    made: list[Path] = []

    def make(path: Path) -> None:
        if os.geteuid() == 0:
            chattr = shutil.which("chattr")
            if chattr is None or subprocess.run([chattr, "+i", path]).returncode != 0:
                pytest.skip("root without the immutable attribute: nothing is read-only")
        else:
            path.chmod(0o444)
        made.append(path)

    yield make
    for path in made:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", path], check=True)
        path.chmod(0o644)


def test_a_read_only_database_stops_the_start_and_check_config_says_so(
    tmp_path: Path, read_only: Callable[[Path], None]
) -> None:
    db = tmp_path / "ro.sqlite3"
    make_database(db)
    read_only(db)
    env = {"PREDARB_DB_PATH": str(db)}
    for command in (["run"], ["demo", "--duration", "5"]):
        out = run_predarb(command, env, cwd=tmp_path, timeout=30)
        assert out.returncode == 2, out.stderr
        assert last_line(out.stderr) == (
            f"predarb: PREDARB_DB_PATH: {db} is read-only; predarb must be able to write it"
            " and its directory"
        )
    check = run_predarb(["check-config"], env, cwd=tmp_path, timeout=30)
    assert check.returncode == 2
    assert f"FAIL PREDARB_DB_PATH: {db} is read-only" in check.stdout
    assert "OK database" not in check.stdout


def test_a_half_made_database_is_refused_untouched(tmp_path: Path) -> None:
    db = tmp_path / "half.sqlite3"
    make_database(db)
    with sqlite3.connect(db) as conn:
        conn.executescript("DROP TABLE fills; DROP TABLE settlements;")
    before = db.read_bytes()
    out = run_predarb(["run"], {"PREDARB_DB_PATH": str(db)}, cwd=tmp_path, timeout=30)
    assert out.returncode == 2
    assert last_line(out.stderr) == (
        f"predarb: {db}: a half-made predarb database (no table fills, settlements);"
        " refusing: restore a backup or use another PREDARB_DB_PATH"
    )
    assert db.read_bytes() == before


def _small_disk() -> None:
    # In the child: files may not grow past 4 KiB, as on a full disk (SIGXFSZ is
    # ignored by Python, so a write past it fails with an error instead).
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))


@pytest.mark.parametrize("existing", [False, True])
def test_a_full_disk_at_start_exits_naming_the_database(tmp_path: Path, existing: bool) -> None:
    db = tmp_path / "full.sqlite3"
    if existing:
        make_database(db)
    out = run_predarb(
        ["run"],
        {"PREDARB_DB_PATH": str(db), "PYTHONDONTWRITEBYTECODE": "1"},
        cwd=tmp_path,
        timeout=30,
        preexec_fn=_small_disk,
    )
    assert out.returncode == 2, out.stderr
    line = last_line(out.stderr)
    assert line.startswith(f"predarb: PREDARB_DB_PATH: {db} ") and "disk" in line


def test_a_broken_overrides_file_exits_naming_it(tmp_path: Path) -> None:
    (tmp_path / "overrides.toml").write_text("force = [\n")
    env = {
        "PREDARB_DB_PATH": str(tmp_path / "o.sqlite3"),
        "PREDARB_MATCH_OVERRIDES": str(tmp_path / "overrides.toml"),
    }
    out = run_predarb(["run"], env, cwd=tmp_path, timeout=30)
    assert out.returncode == 2
    assert last_line(out.stderr).startswith("predarb: PREDARB_MATCH_OVERRIDES: ")


class _BrokenVenue(ScriptedVenue):
    async def connect(self) -> None:
        raise RuntimeError("the venue library blew up")


async def test_an_unexpected_failure_at_start_closes_the_database(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, predarb_db_path=tmp_path / "x.sqlite3")  # type: ignore[call-arg]
    venues = {v: _BrokenVenue(v) for v in Venue}
    before = set(threading.enumerate())
    with pytest.raises(StartupFailure) as failed:
        await run_engine(
            settings, Mode.PAPER, dict(venues), duration_s=1, say=None, echo_alerts=False
        )
    assert str(failed.value) == "could not start: RuntimeError: the venue library blew up"
    assert failed.value.exit_code == 1
    # Every connection's thread has ended (one left would keep the process alive).
    # A closed connection's thread may still be on its way out: give it a moment.
    for t in set(threading.enumerate()) - before:
        t.join(timeout=5)
    left = [t for t in set(threading.enumerate()) - before if t.is_alive()]
    assert left == []


def test_a_thread_left_running_cannot_keep_a_failed_command_alive(tmp_path: Path) -> None:
    script = (
        "import sys, threading\n"
        "from predarb.cli import main\n"
        "threading.Thread(target=threading.Event().wait, name='stuck').start()\n"
        "sys.argv = ['predarb', 'pnl']\n"
        "main()\n"
    )
    env = {**os.environ, "PREDARB_DB_PATH": str(tmp_path / "none.sqlite3")}
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=30
    )
    assert out.returncode == 2
    assert "no database" in out.stderr
    assert "predarb: exit forced; threads still running: ['stuck']" in out.stderr

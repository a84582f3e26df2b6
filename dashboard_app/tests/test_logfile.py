"""The log file survives logrotate's renames: no line lost, none in the wrong file."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from sentinel_dashboard import logfile
from support import Database
from test_serve import serve_once

LINES = 3000


def numbers_in(*files: Path) -> list[int]:
    found = []
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            found.append(int(line.rsplit("line=", 1)[1]))
    return found


def test_lines_written_through_two_renames_are_all_kept_once(tmp_path: Path) -> None:
    path = tmp_path / "dashboard.log"
    logger = logging.getLogger("sentinel_dashboard.test_rotation")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    handler = logfile.file_handler(path)
    logger.addHandler(handler)
    written = threading.Event()
    rotated = threading.Event()

    def write() -> None:
        for number in range(LINES):
            logger.info("line=%d", number)
            if number == LINES // 3:
                written.set()
            if number > LINES // 2:
                # The rest comes after both renames, so it must land in the new file.
                rotated.wait(timeout=30)

    writer = threading.Thread(target=write)
    try:
        writer.start()
        assert written.wait(timeout=30)
        # What logrotate does with rotate 2 and nocreate: shift, rename, no new file.
        path.rename(tmp_path / "dashboard.log.1")
        time.sleep(0.05)
        (tmp_path / "dashboard.log.1").rename(tmp_path / "dashboard.log.2")
        path.rename(tmp_path / "dashboard.log.1")
        rotated.set()
        writer.join(timeout=60)
    finally:
        logger.removeHandler(handler)
        handler.close()

    files = [path, tmp_path / "dashboard.log.1", tmp_path / "dashboard.log.2"]
    assert all(file.is_file() for file in files)
    found = numbers_in(*files)
    assert sorted(found) == list(range(LINES))
    current = numbers_in(path)
    assert LINES - 1 in current
    assert current == sorted(current)
    assert min(current) <= LINES // 2 + 2


def test_streamlit_loggers_and_ours_reach_the_file(tmp_path: Path) -> None:
    path = tmp_path / "dashboard.log"
    code = (
        "import logging\n"
        "from streamlit import logger as st_logger\n"
        "early = st_logger.get_logger('streamlit.early')\n"
        "from sentinel_dashboard import logfile\n"
        "logfile.configure()\n"
        "early.warning('from an early streamlit logger')\n"
        "st_logger.get_logger('streamlit.late').info('from a late streamlit logger')\n"
        "st_logger.update_formatter()\n"
        "st_logger.get_logger('streamlit.late').info('after the formatter changed')\n"
        "logging.getLogger('sentinel_dashboard.x').info('from our package')\n"
        "logging.getLogger('tornado.access').warning('from another library')\n"
        "logging.getLogger('tornado.access').info('below the root level')\n"
    )
    env = {**os.environ, logfile.LOG_FILE_VARIABLE: str(path)}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr

    lines = path.read_text(encoding="utf-8").splitlines()
    messages = [line.split(": ", 1)[1] for line in lines]
    assert messages == [
        "from an early streamlit logger",
        "from a late streamlit logger",
        "after the formatter changed",
        "from our package",
        "from another library",
    ]
    # stderr, the journal's side, still has every one of them.
    for message in messages:
        assert done.stderr.count(message) == 1, done.stderr
    assert "below the root level" not in done.stderr


def test_without_the_setting_nothing_is_written_to_a_file(tmp_path: Path) -> None:
    code = (
        "import logging\n"
        "from sentinel_dashboard import logfile\n"
        "assert logfile.configure() is None\n"
        "assert logfile.configure() is None\n"
        "logging.getLogger('sentinel_dashboard.x').info('to stderr')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != logfile.LOG_FILE_VARIABLE}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True,
        timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("to stderr") == 1
    assert list(tmp_path.iterdir()) == []


def test_serve_writes_the_log_file(schema_db: Database, tmp_path: Path) -> None:
    path = tmp_path / "dashboard.log"

    served = serve_once({**schema_db.env, logfile.LOG_FILE_VARIABLE: str(path)})

    assert served.answer == (200, "ok"), f"streamlit did not answer; exit code {served.ended}"
    text = path.read_text(encoding="utf-8")
    assert "sentinel_dashboard.cli: streamlit run " in text
    # Streamlit's own server logger, which does not propagate to the root logger.
    started = f"Uvicorn server started on 127.0.0.1:{served.port}"
    assert f"INFO streamlit.web.server.starlette.starlette_server: {started}" in text
    assert "Traceback" not in served.output
    # The same line reaches stderr, which the journal keeps.
    assert "sentinel_dashboard.cli: streamlit run " in served.output

"""Log to a file that logrotate may rename at any moment, as well as to stderr.

`serve` calls configure() in the Streamlit process before Streamlit starts, so
the file receives Streamlit's own loggers as well as ours. The file handler is
a WatchedFileHandler: before each record it compares the path's inode with the
one it holds open, and opens the path afresh (creating it as the service user)
once logrotate has renamed the file. A record is written either to the renamed
file or to the new one, never lost, provided the renamed file is not compressed
at once (logrotate's delaycompress).
"""

from __future__ import annotations

import logging
import logging.handlers
import os
from pathlib import Path

LOG_FILE_VARIABLE = "SENTINEL_LOG_FILE"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# Marks the handlers this module added, so that a second call adds none.
_MARK = "_sentinel_dashboard_handler"


def _formatter() -> logging.Formatter:
    formatter = logging.Formatter(FORMAT)
    formatter.default_msec_format = "%s.%03d"
    return formatter


def _marked(handler: logging.Handler) -> logging.Handler:
    setattr(handler, _MARK, True)
    return handler


def _ours(logger: logging.Logger) -> list[logging.Handler]:
    return [handler for handler in logger.handlers if getattr(handler, _MARK, False)]


def file_handler(path: Path) -> logging.Handler:
    """A handler that reopens `path` when the file there is no longer the one it holds."""
    handler = logging.handlers.WatchedFileHandler(path, encoding="utf-8")
    handler.setFormatter(_formatter())
    return _marked(handler)


def configure(
    path: Path | None = None, *, from_environment: bool = True
) -> logging.Handler | None:
    """Send our records to stderr, and every record to the log file when one is set.

    `path` defaults to $SENTINEL_LOG_FILE when `from_environment`; none means stderr
    only. Returns the file handler, or None. Calling it again changes nothing.
    """
    root = logging.getLogger()
    if path is None and from_environment:
        path = Path(raw) if (raw := os.environ.get(LOG_FILE_VARIABLE, "").strip()) else None
    existing = [h for h in _ours(root) if isinstance(h, logging.handlers.WatchedFileHandler)]
    if _ours(root):
        return existing[0] if existing else None

    # Other libraries' warnings still reach stderr, as they did through logging's
    # last resort; our package logs from INFO on.
    root.setLevel(logging.WARNING)
    console = logging.StreamHandler()
    console.setFormatter(_formatter())
    root.addHandler(_marked(console))
    logging.getLogger("sentinel_dashboard").setLevel(logging.INFO)
    if path is None:
        return None

    handler = file_handler(path)
    root.addHandler(handler)
    _follow_streamlit(handler)
    return handler


def _follow_streamlit(handler: logging.Handler) -> None:
    # Streamlit's loggers do not propagate to the root logger: each gets its own
    # console handler from streamlit.logger.setup_formatter, when it is made and
    # again when the configuration is read. Wrapping that function gives every
    # Streamlit logger, present and future, the file handler too. It relies on
    # the pinned Streamlit's module layout; test_logfile fails if that changes.
    from streamlit import logger as streamlit_logger

    original = streamlit_logger.setup_formatter

    def setup_formatter(logger: logging.Logger) -> None:
        original(logger)
        if handler not in logger.handlers:
            logger.addHandler(handler)

    streamlit_logger.setup_formatter = setup_formatter
    for logger in list(streamlit_logger._loggers.values()):
        if handler not in logger.handlers:
            logger.addHandler(handler)

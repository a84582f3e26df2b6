"""Write numbered lines through the dashboard's own log file set-up (SENTINEL_LOG_FILE).

Usage: numbered_log_lines.py RUN COUNT SECONDS_BETWEEN. Each line carries the run's
name and its number, so verify can find every one across the rotated files.
"""

from __future__ import annotations

import logging
import sys
import time

from sentinel_dashboard import logfile

run, count, pause = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
if logfile.configure() is None:
    sys.exit("SENTINEL_LOG_FILE is not set")
log = logging.getLogger("sentinel_dashboard.verify")
for number in range(count):
    log.info("rotation-run=%s line=%d", run, number)
    time.sleep(pause)

"""Find one rotation run's numbered lines in the log file and its rotated copies.

Usage: count_log_lines.py LOG_FILE RUN COUNT. Prints JSON: the files read, the
numbers missing and those found more than once across all of them, and the
numbers found in the current file.
"""

from __future__ import annotations

import gzip
import json
import re
import sys
from collections import Counter
from pathlib import Path

log_file, run, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
line = re.compile(rf"rotation-run={re.escape(run)} line=(\d+)$")


def numbers(path: Path) -> list[int]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as stream:
        return [int(m.group(1)) for text in stream if (m := line.search(text.rstrip("\n")))]


files = sorted(log_file.parent.glob(log_file.name + "*"))
found = {path.name: numbers(path) for path in files}
seen = Counter(n for values in found.values() for n in values)
print(json.dumps({
    "files": sorted(found),
    "per_file": {name: len(values) for name, values in found.items()},
    "missing": [n for n in range(count) if seen[n] == 0],
    "repeated": sorted(n for n, times in seen.items() if times > 1),
    "current": found.get(log_file.name, []),
}))

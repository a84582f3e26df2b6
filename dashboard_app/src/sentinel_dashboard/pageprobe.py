"""Run a Streamlit page once, headless, and print whether it ran.

`python -m sentinel_dashboard.pageprobe PAGE TIMEOUT` renders PAGE with Streamlit's
AppTest and prints one JSON object: `exceptions` (the messages of the exception
elements the page showed) and `errors` (its `st.error` texts), or `failure` when the
page does not compile or its run broke off (a timeout). The health check starts it in
a child process, so a page that hangs or takes the interpreter down cannot take the
checker with it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from streamlit.testing.v1 import AppTest


def probe(page: str, timeout: float) -> dict[str, object]:
    path = Path(page).resolve()
    try:
        # Streamlit logs a page that does not compile and shows nothing, so it is
        # compiled here first; a syntax error is the commonest broken release.
        compile(path.read_bytes(), str(path), "exec")
        # AppTest takes a relative path from its caller's folder, not the working one.
        app = AppTest.from_file(str(path), default_timeout=timeout)
        app.run()
    except SyntaxError as exc:
        return {"failure": f"SyntaxError: {exc.msg} (line {exc.lineno})"}
    except Exception as exc:  # a timeout, or a file that cannot be read
        return {"failure": f"{type(exc).__name__}: {exc}"}
    return {
        "exceptions": [element.message for element in app.exception],
        "errors": [element.value for element in app.error],
    }


def main(argv: list[str]) -> int:
    page, timeout = argv
    print(json.dumps(probe(page, float(timeout))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

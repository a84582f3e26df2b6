"""Alerts to a webhook: the generic JSON object and the Feishu, DingTalk and Slack shapes.

The webhook's URL carries its credential (a token in the path or the query), so it is
read from a file, kept in no attribute that outlives a send, and never put into a
message: requests names the URL in its exceptions, so those are replaced here by
their cause alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

log = logging.getLogger(__name__)

FORMATS = ("generic", "feishu", "dingtalk", "slack")
DEFAULT_FORMAT = "generic"
DEFAULT_TIMEOUT = 10

# The keys of the generic object, in the order it is documented.
ALERT_KEYS = (
    "event", "status", "host", "service", "findings", "action",
    "started_at", "resolved_at", "duration_seconds",
)


class AlertError(Exception):
    """An alert could not be delivered; the message never holds the webhook's URL."""


def duration_words(seconds: int) -> str:
    """`95` as "1 min 35 s": short enough for a chat line."""
    minutes, secs = divmod(max(seconds, 0), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    parts = [(days, "d"), (hours, "h"), (minutes, "min"), (secs, "s")]
    shown = [f"{value} {unit}" for value, unit in parts if value]
    # Two units say enough; "3 d 4 h" needs no seconds.
    return " ".join(shown[:2]) or "0 s"


def text(alert: dict[str, Any]) -> str:
    """The alert as a few lines of plain text, for the chat formats."""
    service, host = alert["service"], alert["host"]
    if alert["event"] == "check_resolved":
        took = duration_words(alert["duration_seconds"] or 0)
        return (
            f"CHECK RUNNING AGAIN: the health check of {service} on {host} runs again after "
            f"{took} (it could not run at {alert['started_at']}); {service} is "
            f"{alert['status']}."
        )
    if alert["event"] == "resolved":
        took = duration_words(alert["duration_seconds"] or 0)
        return (
            f"RESOLVED: {service} on {host} is ok again after {took} "
            f"(incident since {alert['started_at']})."
        )
    lines = [f"{alert['status'].upper()}: {service} on {host}"]
    lines += [f"- {f['check']}: {f['reason']}" for f in alert["findings"] if not f["ok"]]
    lines.append(f"Action: {alert['action']}")
    lines.append(f"Since {alert['started_at']}")
    return "\n".join(lines)


def payload(alert: dict[str, Any], fmt: str) -> dict[str, Any]:
    """The JSON body a webhook of this format expects."""
    if fmt == "generic":
        return {key: alert[key] for key in ALERT_KEYS}
    if fmt == "feishu":
        return {"msg_type": "text", "content": {"text": text(alert)}}
    if fmt == "dingtalk":
        return {"msgtype": "text", "text": {"content": text(alert)}}
    if fmt == "slack":
        return {"text": text(alert)}
    raise ValueError(f"unknown webhook format {fmt!r}")


def read_url(path: Path) -> str:
    """The webhook's URL from its file; errors name the file, never its content."""
    try:
        url = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise AlertError(f"cannot read the webhook file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise AlertError(f"the webhook file {path} is not UTF-8 text") from None
    if not url:
        raise AlertError(f"the webhook file {path} is empty")
    if path.stat().st_mode & 0o077:
        log.warning("the webhook file %s can be read by others than its owner", path)
    return url


def cause(exc: BaseException) -> str:
    """The operating system's words for a failed request (such as "Connection refused").

    requests and urllib3 put the URL into their own messages, so only an OSError's
    strerror from somewhere in the chain is used, else the exception's class name.
    """
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OSError) and isinstance(current.errno, int) and current.strerror:
            return current.strerror
        linked = [current.__cause__, current.__context__, getattr(current, "reason", None),
                  *current.args]
        pending += [item for item in linked if isinstance(item, BaseException)]
    return type(exc).__name__


# Feishu and DingTalk answer HTTP 200 for a refused message and say so in the body.
_REFUSALS = {"feishu": ("code", "msg"), "dingtalk": ("errcode", "errmsg")}


def _refusal(fmt: str, response: requests.Response) -> str | None:
    if fmt not in _REFUSALS:
        return None
    code_key, message_key = _REFUSALS[fmt]
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, dict) and body.get(code_key) not in (None, 0):
        return f"code {body[code_key]}: {body.get(message_key, '')}".strip()
    return None


Post = Callable[..., requests.Response]


def send(
    alert: dict[str, Any],
    *,
    url_file: Path,
    fmt: str,
    timeout: float = DEFAULT_TIMEOUT,
    post: Post = requests.post,
) -> None:
    """Post one alert; raise AlertError, without the URL, when it was not accepted."""
    url = read_url(url_file)
    try:
        response = post(url, json=payload(alert, fmt), timeout=timeout, allow_redirects=False)
    except requests.Timeout:
        raise AlertError(f"the webhook did not answer within {timeout:g} s") from None
    except requests.RequestException as exc:
        raise AlertError(f"the webhook could not be reached: {cause(exc)}") from None
    if not 200 <= response.status_code < 300:
        raise AlertError(f"the webhook answered HTTP {response.status_code}")
    refused = _refusal(fmt, response)
    if refused:
        raise AlertError(f"the webhook refused the alert ({refused})")

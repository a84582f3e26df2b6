"""Every word the page shows, in English and in Chinese.

The Chinese follows the runbook's own terms (最新价格, 24H 成交量, 当前数据源,
近期熔断次数). A key missing from one language is a test failure, not a fallback.
"""

from __future__ import annotations

from collections.abc import Callable

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "page_title": "Sentinel market dashboard",
        "symbol": "Symbol",
        "interval": "Candle interval",
        "range": "Time range",
        "range_6h": "6 h",
        "range_24h": "24 h",
        "range_7d": "7 d",
        "range_30d": "30 d",
        "range_all": "all",
        "unknown_symbol": "No candles for {requested!r}; showing {shown} instead.",
        "unknown_choice": "No {name} {requested!r}; showing {shown} instead.",
        "settings_invalid": "The dashboard settings are invalid: {error}",
        "no_data": "Cannot show market data: {error}",
        "newest": "Newest candle {time} (open time), {age} old.",
        "newest_ahead": "Newest candle {time} (open time), {age} ahead of this server's clock.",
        "refresh": "Refreshes every {seconds} s.",
        "refresh_off": "Automatic refresh is off.",
        "stale": (
            "Stale data: the newest candle is {age} old, more than the {limit} allowed. "
            "The feed pipeline may have stopped; the market is not necessarily quiet."
        ),
        "stale_arrival": (
            "Stale data: no candle has arrived for {silence}, more than the {limit} "
            "allowed. The feed pipeline may have stopped; the market is not necessarily quiet."
        ),
        "ahead": (
            "The newest candle is {age} ahead of this server's clock: a replay running "
            "faster than real time, or a feed node whose clock is wrong."
        ),
        "latest_price": "Latest price",
        "change_24h": "24h change",
        "high_24h": "24h high",
        "low_24h": "24h low",
        "volume_24h": "24h volume",
        "data_source": "Data source",
        "breaker_trips": "Breaker trips (24h)",
        "breaker_state": "Breaker state",
        "chart_title": "{symbol}: {interval} candles, {range}",
        "chart_truncated": "The range holds more than {limit:,} candles of this interval; "
        "the newest {limit:,} are shown.",
        "price": "Price",
        "volume": "Volume",
        "time_utc": "Time (UTC)",
        "served_by": "served by {node}",
        "nodes": "Feed nodes",
        "no_health": "No node health samples have been recorded yet.",
        "node": "Node",
        "state": "State",
        "latency": "Latency (ms)",
        "last_error": "Last error",
        "observed": "Observed",
        "last_candle": "Last {symbol} candle",
        "timeline_title": "Node states over the chart's range",
        "no_health_in_range": "No node health samples in the chart's range.",
        "breaker": "Circuit breaker",
        "breaker_changes": "State changes up to the newest candle, newest first",
        "no_breaker_changes": "No circuit-breaker state changes up to the newest candle.",
        "time": "Time (UTC)",
        "from": "From",
        "to": "To",
        "reason": "Reason",
        "up": "up",
        "degraded": "degraded",
        "down": "down",
        "closed": "closed",
        "open": "open",
        "half_open": "half-open",
        "days": "{n} d",
        "hours": "{n} h",
        "minutes": "{n} min",
        "seconds": "{n} s",
    },
    "zh": {
        "page_title": "Sentinel 实时监控看板",
        "symbol": "交易对",
        "interval": "K 线周期",
        "range": "时间范围",
        "range_6h": "6 小时",
        "range_24h": "24 小时",
        "range_7d": "7 天",
        "range_30d": "30 天",
        "range_all": "全部",
        "unknown_symbol": "没有 {requested!r} 的 K 线，改为显示 {shown}。",
        "unknown_choice": "没有 {requested!r} 这个 {name}，改为显示 {shown}。",
        "settings_invalid": "看板配置无效：{error}",
        "no_data": "无法显示行情数据：{error}",
        "newest": "最新 K 线 {time}（开盘时间），距今 {age}。",
        "newest_ahead": "最新 K 线 {time}（开盘时间），比本服务器时钟超前 {age}。",
        "refresh": "每 {seconds} 秒自动刷新。",
        "refresh_off": "自动刷新已关闭。",
        "stale": (
            "数据已过期：最新 K 线距今 {age}，超过允许的 {limit}。"
            "可能是数据管道已停止，而不是行情平静。"
        ),
        "stale_arrival": (
            "数据已过期：已有 {silence} 没有新的 K 线到达，超过允许的 {limit}。"
            "可能是数据管道已停止，而不是行情平静。"
        ),
        "ahead": (
            "最新 K 线比本服务器时钟超前 {age}：回放速度快于真实时间，或某个节点的时钟有误。"
        ),
        "latest_price": "最新价格",
        "change_24h": "24H 涨跌幅",
        "high_24h": "24H 最高",
        "low_24h": "24H 最低",
        "volume_24h": "24H 成交量",
        "data_source": "当前数据源",
        "breaker_trips": "近期熔断次数（24H）",
        "breaker_state": "熔断器状态",
        "chart_title": "{symbol}：{interval} K 线，{range}",
        "chart_truncated": "该范围内此周期的 K 线超过 {limit:,} 根，只显示最新的 {limit:,} 根。",
        "price": "价格",
        "volume": "成交量",
        "time_utc": "时间（UTC）",
        "served_by": "由 {node} 提供",
        "nodes": "数据节点",
        "no_health": "尚无节点健康记录。",
        "node": "节点",
        "state": "状态",
        "latency": "延迟（毫秒）",
        "last_error": "最近错误",
        "observed": "观测时间",
        "last_candle": "最近一根 {symbol} K 线",
        "timeline_title": "图表时间范围内的节点状态",
        "no_health_in_range": "图表时间范围内没有节点健康记录。",
        "breaker": "熔断器",
        "breaker_changes": "截至最新 K 线的状态变化（最新在前）",
        "no_breaker_changes": "截至最新 K 线，熔断器的状态没有变化。",
        "time": "时间（UTC）",
        "from": "原状态",
        "to": "新状态",
        "reason": "原因",
        "up": "正常",
        "degraded": "降级",
        "down": "宕机",
        "closed": "关闭",
        "open": "打开",
        "half_open": "半开",
        "days": "{n} 天",
        "hours": "{n} 小时",
        "minutes": "{n} 分钟",
        "seconds": "{n} 秒",
    },
}

Translate = Callable[..., str]


def translator(language: str) -> Translate:
    table = LABELS[language]

    def text(key: str, **values: object) -> str:
        return table[key].format(**values) if values else table[key]

    return text


def duration(seconds: float, text: Translate) -> str:
    """A span as its largest unit and the next, e.g. 1 h 5 min, 2 min 0 s or 42 s."""
    total = int(abs(seconds))
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    units = (("days", days), ("hours", hours), ("minutes", minutes), ("seconds", secs))
    # The largest unit present and the one right below it, even at zero: "7 h 0 min",
    # never "7 h 49 s".
    first = next((i for i, (_unit, amount) in enumerate(units) if amount), len(units) - 1)
    return " ".join(text(unit, n=amount) for unit, amount in units[first:first + 2])

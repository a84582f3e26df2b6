#!/bin/bash
# come_back.sh kill|stop UNIT URL SECONDS: takes the unit down (SIGKILL to its
# main process, or systemctl stop), then prints as JSON how long until URL
# answered 200 from a new main process, and the unit's NRestarts before and after.
set -euo pipefail
how=$1 unit=$2 url=$3 limit=$4

restarts_before=$(systemctl show -P NRestarts "$unit")
old_pid=$(systemctl show -P MainPID "$unit")
[[ $old_pid -gt 0 ]] || { echo "$unit has no main process" >&2; exit 1; }
start=$(date +%s%N)
case $how in
    kill) kill -9 "$old_pid" ;;
    stop) systemctl stop "$unit" ;;
    *) echo "kill or stop, not $how" >&2; exit 2 ;;
esac

answers() {
    local pid
    pid=$(systemctl show -P MainPID "$unit")
    [[ $pid -gt 0 && $pid != "$old_pid" ]] || return 1
    [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url") == 200 ]]
}
until answers; do
    if (( ($(date +%s%N) - start) / 1000000000 > limit )); then
        echo "$unit did not answer at $url within $limit s" >&2
        exit 1
    fi
    sleep 0.2
done
millis=$(( ($(date +%s%N) - start) / 1000000 ))
printf '{"started": %d, "seconds": %d.%03d, "restarts_before": %d, "restarts_after": %d, "old_pid": %d, "new_pid": %d}\n' \
    $((start / 1000000000)) $((millis / 1000)) $((millis % 1000)) "$restarts_before" \
    "$(systemctl show -P NRestarts "$unit")" "$old_pid" "$(systemctl show -P MainPID "$unit")"

#!/bin/bash
# Every hook of the chaos charm: hooks/<name> runs `lib/hook.sh <name>`.
#
# The entry a hook appends to charm state `history` (entries separated by spaces):
#   <hook>                                   install, start, stop, remove, leader-elected
#   config-changed,<token>                   the config it saw
#   leader-settings-changed,<leader>         the leader settings it saw
#   <ep>-relation-created,<rid>              and -broken
#   <ep>-relation-joined,<rid>,<unit>        and -departed
#   <ep>-relation-changed,<rid>,<unit>,<unit bag `unit`>   (a remote unit's bag)
#   <ep>-relation-changed,<rid>,<app>,<app bag `token`>    (the remote application's bag)
# Before anything else it records its pid (and appends its name to an attempts file) in
# config `record-dir`, so a test can kill it and see hooks of units that are gone.
set -eu
HOOK=$1
UNIT=$JUJU_UNIT_NAME
APP=${UNIT%/*}
TAG=${UNIT/\//-}
dir=$(config-get record-dir)
if [ -n "$dir" ]; then
    printf '%s %s\n' "$$" "$HOOK" >"$dir/$TAG.pid"
    printf '%s\n' "$HOOK" >>"$dir/$TAG.attempts"
fi
pause=$(config-get hook-pause)
if [ "$pause" != 0 ]; then sleep "$pause"; fi
TOKEN=$(config-get token)

# This unit's bag (and the app bag when leading) of relation $1, written where it differs.
publish() {
    local rid=$1
    if [ "$(relation-get -r "$rid" unit "$UNIT")" != "$UNIT" ]; then
        relation-set -r "$rid" unit="$UNIT"
    fi
    if [ "$(is-leader)" = True ] && [ "$(relation-get -r "$rid" --app token "$APP")" != "$TOKEN" ]; then
        relation-set -r "$rid" --app token="$TOKEN"
    fi
}

publish_all() {
    local rid
    for rid in $(relation-ids source) $(relation-ids sink); do publish "$rid"; done
}

entry=$HOOK
case "$HOOK" in
config-changed)
    entry="$HOOK,$TOKEN"
    publish_all
    ;;
leader-elected)
    leader-set leader="$UNIT"
    publish_all
    ;;
leader-settings-changed) entry="$HOOK,$(leader-get leader)" ;;
*-relation-created)
    entry="$HOOK,$JUJU_RELATION_ID"
    publish "$JUJU_RELATION_ID"
    ;;
*-relation-broken) entry="$HOOK,$JUJU_RELATION_ID" ;;
*-relation-changed)
    if [ -n "${JUJU_REMOTE_UNIT:-}" ]; then
        entry="$HOOK,$JUJU_RELATION_ID,$JUJU_REMOTE_UNIT,$(relation-get unit "$JUJU_REMOTE_UNIT")"
    else
        entry="$HOOK,$JUJU_RELATION_ID,$JUJU_REMOTE_APP,$(relation-get --app token "$JUJU_REMOTE_APP")"
    fi
    ;;
*-relation-*) entry="$HOOK,$JUJU_RELATION_ID,$JUJU_REMOTE_UNIT" ;;
esac
history=$(state-get history)
state-set history="${history:+$history }$entry"
case "$HOOK" in
stop | remove) ;;
*) status-set active "$TOKEN" ;;
esac

#!/bin/bash
# Every hook of bash-provider and bash-requirer (the same file in both): hooks/<name> runs
# `lib/hook.sh <name>`. It records the event (lib/common.sh), fails on purpose when config
# `fail-hook` names it, publishes this unit's data (and, when leading, the app's) in every
# relation through the hook tools, and sets the active status from what it reads of the
# other side: `saw <key>=<value> from <n> units`, or `not related`.
set -eu
HOOK=$1
# shellcheck source=common.sh
. "$CHARM_DIR/lib/common.sh"
# shellcheck source=role.sh
. "$CHARM_DIR/lib/role.sh"
PEERS=peers

# What this unit reads of relation $1 (remote app $2), as JSON.
relation_view() {
    local rid=$1 app=$2 sep="" unit
    printf '{"app":%s,"units":{' "$(relation-get --format=json -r "$rid" --app - "$app")"
    for unit in $(relation-list -r "$rid"); do
        printf '%s"%s":%s' "$sep" "$unit" "$(relation-get --format=json -r "$rid" - "$unit")"
        sep=","
    done
    printf '}}'
}

# Write this unit's bag (and the app bag when leading) of relation $1 (endpoint $2), only
# where it differs from what is there.
publish() {
    local rid=$1 endpoint=$2 pair
    local -a wanted
    if [ "$(relation-get -r "$rid" unit-name "$UNIT")" != "$UNIT" ]; then
        relation-set -r "$rid" unit-name="$UNIT"
    fi
    if [ "$(is-leader)" != True ]; then return; fi
    if [ "$endpoint" = "$PEERS" ]; then
        wanted=("leader=$UNIT")
    else
        mapfile -t wanted < <(app_data)
    fi
    for pair in "${wanted[@]}"; do
        if [ "$(relation-get -r "$rid" --app "${pair%%=*}" "$APP")" != "${pair#*=}" ]; then
            relation-set -r "$rid" --app "${wanted[@]}"
            return
        fi
    done
}

publish_all() {
    local endpoint rid
    for endpoint in "$PEERS" "$RELATION"; do
        for rid in $(relation-ids "$endpoint"); do publish "$rid" "$endpoint"; done
    done
}

set_status() {
    local rid="" candidate app value seen=0 unit
    for candidate in $(relation-ids "$RELATION"); do
        if [ "$HOOK" = "$RELATION-relation-broken" ] && [ "$candidate" = "${JUJU_RELATION_ID:-}" ]; then
            continue
        fi
        rid=$candidate
        break
    done
    if [ -z "$rid" ]; then
        status-set active "not related"
        return
    fi
    app=$(relation-list -r "$rid" --app)
    value=$(relation-get -r "$rid" --app "$REMOTE_KEY" "$app")
    for unit in $(relation-list -r "$rid"); do
        if [ "$(relation-get -r "$rid" unit-name "$unit")" = "$unit" ]; then
            seen=$((seen + 1))
        fi
    done
    status-set active "saw $REMOTE_KEY=${value:-?} from $seen units"
}

count=$(state-get count)
count=$((${count:-0} + 1))
state-set count="$count"
failing=false
if [ "$(config-get fail-hook)" = "$HOOK" ]; then failing=true; fi
view=null
case "$HOOK" in
*-relation-broken) ;;
*-relation-*)
    view=$(relation_view "$JUJU_RELATION_ID" "${JUJU_REMOTE_APP:-$(relation-list -r "$JUJU_RELATION_ID" --app)}")
    ;;
esac
data=null
if [ "$HOOK" = leader-settings-changed ]; then
    data=$(printf '{"leader-settings":%s}' "$(leader-get --format=json)")
fi
record hooks "$HOOK" ",\"count\":$count,\"failing\":$failing,\"view\":$view,\"data\":$data"
dump_env "hooks/$HOOK"
if $failing; then
    # One record of two lines, at ERROR, in debug-log.
    juju-log -l ERROR "$(printf 'failing %s on purpose\nsecond line of the failure' "$HOOK")"
    echo "failing $HOOK on purpose" >&2
    exit 1
fi

case "$HOOK" in
*-relation-departed | *-relation-broken) ;;
*-relation-*) publish "$JUJU_RELATION_ID" "$JUJU_RELATION" ;;
leader-elected)
    leader-set leader="$UNIT"
    publish_all
    ;;
config-changed) publish_all ;;
start) on_start ;;
esac
# A leaving unit (it departs every relation, then stops) keeps the status it had.
if [ "${JUJU_DEPARTING_UNIT:-}" = "$UNIT" ]; then exit 0; fi
case "$HOOK" in
stop | remove | "$PEERS"-relation-broken) ;;
*) set_status ;;
esac

#!/bin/bash
# Every hook of bash-subordinate: hooks/<name> runs `lib/hook.sh <name>`. It records the
# hook with the units `relation-list` names in the `juju-info` relation, and says in its
# status which units it sees.
set -eu
HOOK=$1
UNIT="$JUJU_UNIT_NAME"
seen=""
for rid in $(relation-ids juju-info); do
    if [ "$HOOK" = juju-info-relation-broken ] && [ "$rid" = "${JUJU_RELATION_ID:-}" ]; then
        continue
    fi
    seen="$seen $(relation-list -r "$rid" | tr '\n' ' ')"
done
seen=$(echo $seen)
units=""
sep=""
for unit in $seen; do
    units="$units$sep\"$unit\""
    sep=","
done
line=$(printf '{"unit":"%s","hook":"%s","remote":"%s","machine":"%s","principal":"%s","leader":%s,"seen":[%s]}' \
    "$UNIT" "$HOOK" "${JUJU_REMOTE_UNIT:-}" "${JUJU_MACHINE_ID:-}" "${JUJU_PRINCIPAL_UNIT:-}" \
    "$(is-leader --format=json)" "$units")
printf '%s\n' "$line" >>"$CHARM_DIR/events.log"
dir=$(config-get record-dir)
if [ -n "$dir" ]; then printf '%s\n' "$line" >>"$dir/${UNIT/\//-}.jsonl"; fi
if [ "${JUJU_DEPARTING_UNIT:-}" = "$UNIT" ]; then exit 0; fi
case "$HOOK" in
stop | remove) ;;
*)
    if [ -n "$seen" ]; then status-set active "beside $seen"; else status-set active alone; fi
    ;;
esac

# shellcheck shell=bash
# Sourced by every hook and action of bash-provider and bash-requirer (the same file in both).
#
# `record KIND NAME EXTRA` appends one JSON line describing this event to events.log in the
# charm dir and, when config `record-dir` is set, to <record-dir>/<app>-<n>.jsonl, in the
# format of the ops conformance charms (see tests/charms/ops-provider/src/charm.py). EXTRA is
# a JSON fragment that starts with a comma. `dump_env NAME` appends the hook's whole
# environment to hook-env.log (and <record-dir>/<app>-<n>.env).

UNIT="$JUJU_UNIT_NAME"
APP="${JUJU_UNIT_NAME%/*}"

revision() {
    if [ -f "$CHARM_DIR/REVISION" ]; then cat "$CHARM_DIR/REVISION"; else echo 1; fi
}

# Every JUJU_* variable and CHARM_DIR as a JSON object (values escaped for \ and ").
env_json() {
    local sep="" line key value
    printf '{'
    while IFS= read -r line; do
        key=${line%%=*}
        value=${line#*=}
        value=${value//\\/\\\\}
        value=${value//\"/\\\"}
        printf '%s"%s":"%s"' "$sep" "$key" "$value"
        sep=","
    done < <(env | grep -E '^(JUJU_[A-Z_]+|CHARM_DIR)=' | sort)
    printf '}'
}

# Where else to record: <record-dir>/<app>-<n> (without suffix), or nothing.
record_base() {
    local dir
    dir=$(config-get record-dir)
    if [ -n "$dir" ]; then printf '%s/%s' "$dir" "${UNIT/\//-}"; fi
}

record() {
    local kind=$1 name=$2 extra=$3 line base
    line=$(printf '{"unit":"%s","kind":"%s","name":"%s","env":%s,"leader":%s,"revision":"%s"%s}' \
        "$UNIT" "$kind" "$name" "$(env_json)" "$(is-leader --format=json)" "$(revision)" "$extra")
    printf '%s\n' "$line" >>"$CHARM_DIR/events.log"
    base=$(record_base)
    if [ -n "$base" ]; then printf '%s\n' "$line" >>"$base.jsonl"; fi
}

dump_env() {
    local base
    {
        printf '=== %s\n' "$1"
        env | sort
    } >>"$CHARM_DIR/hook-env.log"
    base=$(record_base)
    if [ -n "$base" ]; then
        {
            printf '=== %s\n' "$1"
            env | sort
        } >>"$base.env"
    fi
}

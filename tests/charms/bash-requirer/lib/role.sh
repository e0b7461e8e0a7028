# shellcheck shell=bash
# What makes this charm the requirer of `conformance` (bash-provider has its own role.sh).
RELATION=sink
REMOTE_KEY=token

# KEY=VALUE lines the leader publishes in the application bag of $RELATION.
app_data() {
    printf '%s\n' "client=$APP" "leader=$UNIT"
}

on_start() {
    :
}

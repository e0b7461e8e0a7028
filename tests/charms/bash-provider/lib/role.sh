# shellcheck shell=bash
# What makes this charm the provider of `conformance` (bash-requirer has its own role.sh).
RELATION=source
REMOTE_KEY=client

# KEY=VALUE lines the leader publishes in the application bag of $RELATION.
app_data() {
    printf '%s\n' "token=$(config-get token)" "leader=$UNIT"
}

on_start() {
    open-port 8080/tcp
}

"""A Pebble-compatible workload agent: what ops' `pebble.Client` and the unit agent use.

`rune-pebble run` behaves as `pebble run` (reference: pebble.md): `$PEBBLE` is its
directory (`layers/`, state), the socket is `$PEBBLE_SOCKET` or `$PEBBLE/.pebble.socket`,
file paths of the API are rooted at the container's root directory (`--root`, default `/`).

Modules, from the edge inwards:

- `__main__`: the `rune-pebble` console script (`run`, `notify`, `install`).
- `_server`: HTTP/1.1 over the unix socket (h11), websockets (wsproto), peer credentials,
  the refusal of callers acting for another unit (`--unit`).
- `_http`: the request, the Pebble envelope, `PebbleError`, the route table;
  `_websocket`: what a handler sees of a websocket, and the `Upgrade` reply asking for one.
- `_daemon`: the composition root: one `Daemon` holding the parts below, and the routes.
- `_api_*`: handlers by area: `_api_edge` (system-info, identities, signals), `_api_files`,
  `_api_exec` (exec and its websockets), `_api_runtime` (changes, services, layers, plan,
  checks, health, notices).
- `_files`: container paths mapped under the root, and the file operations;
  `_users`: users and groups as Pebble resolves them.
- `_state`: changes, tasks, notices (with waiting and long-polls).
- `_plan`: layers and the plan as pure functions (parse, combine, validate, YAML, order).
  Behind it: `_planmodel` (its types, re-exported by `_plan`), `_layers` (the strict layer
  schema and the layers directory), `_yamlv3` (decoding as Pebble's yaml.v3 does), `_order`
  (start/stop order and lanes), `_command` (commands split as Pebble splits them).
- `_durations`: Go duration syntax; `_gotext`: Go's `%q` quoting for messages.
- `_children`: the children (services, exec, checks) die with the daemon, as in a container.
- `_runtime`: the stateful half, one `Runtime` bundling `_state`, `_planstate` (the layer
  stack and the current plan), `_services` (the service supervisor) and `_checks` (the
  health-check runner); `_api_runtime` serves it.

Only the standard library, h11, wsproto and PyYAML are used, all pure Python, so the agent
also runs from a zipapp inside a workload image that has `python3`.
"""

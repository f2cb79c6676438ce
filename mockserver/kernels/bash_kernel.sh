# e2b-mock bash kernel: one persistent shell, so cwd, variables and functions survive
# between executions.  Run as: bash --noprofile --norc -c "<this file>"
#
# Requests on fd 4 (NUL framed, written by mockserver/src/kernel.c):
#     NAME=VALUE\0 ... \0   the execution's env vars, ended by an empty entry
#     CODE\0                the code (bash strings cannot hold NUL, so none is lost)
# Events on fd 3: ready, number_of_executions, error (non-zero status), end.  The code's
# stdout/stderr go straight to fd 1/2, which the server streams as stdout/stderr events.
# SIGINT interrupts the running execution (status 130) without killing the kernel.
__e2b_n=0

__e2b_run() {
  trap 'return 130' INT
  eval "$1"
}

trap ':' INT
printf '{"type":"ready","pid":%d}\n' "$$" >&3

while :; do
  __e2b_names=()
  __e2b_olds=()
  __e2b_wasset=()
  while :; do
    IFS= read -r -d '' __e2b_kv <&4
    __e2b_rc=$?
    if [ "$__e2b_rc" -gt 128 ]; then continue; fi
    if [ "$__e2b_rc" -ne 0 ]; then exit 0; fi
    [ -z "$__e2b_kv" ] && break
    __e2b_name=${__e2b_kv%%=*}
    if [[ $__e2b_name =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then
      __e2b_names+=("$__e2b_name")
      if [ -n "${!__e2b_name+x}" ]; then
        __e2b_wasset+=(1)
        __e2b_olds+=("${!__e2b_name}")
      else
        __e2b_wasset+=(0)
        __e2b_olds+=("")
      fi
      export "$__e2b_kv"
    fi
  done
  IFS= read -r -d '' __e2b_code <&4
  __e2b_rc=$?
  if [ "$__e2b_rc" -ne 0 ] && [ -z "$__e2b_code" ]; then exit 0; fi
  __e2b_n=$((__e2b_n + 1))
  printf '{"type":"number_of_executions","execution_count":%d}\n' "$__e2b_n" >&3
  # the code never sees the protocol fds (background jobs must not hold them open)
  __e2b_run "$__e2b_code" </dev/null 3>&- 4<&-
  __e2b_rc=$?
  trap ':' INT
  for __e2b_i in "${!__e2b_names[@]}"; do
    if [ "${__e2b_wasset[$__e2b_i]}" = 1 ]; then
      export "${__e2b_names[$__e2b_i]}=${__e2b_olds[$__e2b_i]}"
    else
      unset "${__e2b_names[$__e2b_i]}"
    fi
  done
  if [ "$__e2b_rc" -ne 0 ]; then
    if [ "$__e2b_rc" -eq 130 ]; then
      printf '{"type":"error","name":"KeyboardInterrupt","value":"Execution interrupted","traceback":"Execution interrupted (status 130)"}\n' >&3
    else
      printf '{"type":"error","name":"ExitCodeError","value":"%d","traceback":"Command exited with code %d"}\n' "$__e2b_rc" "$__e2b_rc" >&3
    fi
  fi
  printf '{"type":"end"}\n' >&3
done

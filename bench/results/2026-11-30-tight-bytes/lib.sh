# Sourced by the scripts of this folder. `labelled_run LABEL DIR WORKLOAD PARAMS [ARGS...]`
# runs `python -m bench.worker` on the engine checked out in DIR and prints its JSON line with
# the engine's label, the workload and the extra arguments added (the lines recorded before
# this helper existed lack some of these keys).
py=/work/main/.venv/bin/python
# the engine of f087513 in a worktree (git worktree add /tmp/base f087513), and this checkout
SIDES=("before /tmp/base" "after /work/main")
labelled_run() {
    local label=$1 dir=$2 workload=$3 params=$4
    shift 4
    (cd "$dir" && PYTHONPATH="$dir/src:$dir" $py -m bench.worker "$workload" --params "$params" "$@") |
        $py -c "import json,sys; d=json.load(sys.stdin); d.update(engine='$label', workload='$workload', args='$*'); print(json.dumps(d))"
}

# Sourced by the scripts of this folder (and of later ones). `labelled_run LABEL DIR WORKLOAD
# PARAMS [ARGS...]` runs `python -m bench.worker` on the engine checked out in DIR and prints its
# JSON line with the engine's label, the workload and the extra arguments added (the lines
# recorded before this helper existed lack some of these keys). `label LABEL [KEY=VALUE...]`
# adds the label and the keys to the JSON line on its stdin.
py=/work/main/.venv/bin/python
# the engine of f087513 in a worktree (git worktree add /tmp/base f087513), and this checkout
SIDES=("before /tmp/base" "after /work/main")
label() {
    $py -c "import json,sys; d=json.load(sys.stdin); d['engine']=sys.argv[1]
d.update(a.split('=', 1) for a in sys.argv[2:]); print(json.dumps(d))" "$@"
}
labelled_run() {
    local name=$1 dir=$2 workload=$3 params=$4
    shift 4
    (cd "$dir" && PYTHONPATH="$dir/src:$dir" $py -m bench.worker "$workload" --params "$params" "$@") |
        label "$name" "workload=$workload" "args=$*"
}

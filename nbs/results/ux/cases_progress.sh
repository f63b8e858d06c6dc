#!/bin/bash
# Issue 15 item 9, progress inside the demo's long stages. before = segkit/ of commit 572a4d8 (git archive), after = this branch.
# A tiny demo with all three optional steps on synthetic blobs (the cam step always uses real nuclei patches);
# each side with its own $SEGKIT_DATA (packages linked from the real cache), so its timings.json starts empty.
PY=/work/main/.venv/bin/python
SET="epochs=2,n=16,size=48,crop=32,epoch_len=32,base=4,depth=2,steps=[coheg,cam,pretext],cam={'patch':32,'epochs':1,'n_test':3,'per_image':2},pretext={'pre_epochs':1,'epochs':1,'pre_epoch_len':16,'epoch_len':16,'crop':32,'eval_crop':48}"
seg() { d=$1; shift; (cd /tmp/ux3 && PYTHONPATH=$d nice $PY -W ignore -c "import sys; from segkit.cli import main; sys.exit(main(sys.argv[1:]))" "$@"); }
for side in before after; do
  d=/tmp/ux3/before; [ $side = after ] && d=/work/wt/ux3
  export SEGKIT_DATA=/tmp/ux3/data_$side; rm -rf $SEGKIT_DATA; mkdir -p $SEGKIT_DATA; ln -s ~/.cache/segkit/packages $SEGKIT_DATA/packages
  for k in 1 2; do
    [ $side = before ] && [ $k = 2 ] && continue
    echo "=================== $side, run $k: segkit run demo --source synthetic_blobs --set \"$SET\""
    seg $d run demo --source synthetic_blobs --out /tmp/ux3/runs_$side --set "$SET" 2>&1 | grep -E "^(demo|epoch|cam step)"; echo "exit ${PIPESTATUS[0]}"
  done
  echo "--- timings.json keys ($side)"; $PY -c "import json,sys; [print(k) for k in json.load(open(sys.argv[1]))]" $SEGKIT_DATA/timings.json
done

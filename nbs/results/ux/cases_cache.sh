#!/bin/bash
# before = /work/main, after = /work/wt/ux; each in a copy of the data cache
PY=/work/main/.venv/bin/python
seg() { # $1 = code dir, rest = args
  d=$1; shift; (cd /tmp/ux && PYTHONPATH=$d nice $PY -W ignore -c "import sys; from segkit.cli import main; sys.exit(main(sys.argv[1:]))" "$@"); }
for side in before after; do
  d=/work/main; [ $side = after ] && d=/work/wt/ux
  echo "=================== $side"
  rm -rf /tmp/ux/c_$side; mkdir -p /tmp/ux/c_$side; cp -r ~/.cache/segkit/packages /tmp/ux/c_$side/
  # the marker as main writes it (no per-file hashes), so 'after' shows the upgrade path of an existing cache
  M=/tmp/ux/c_$side/packages/mnfinder-1.2.3
  $PY -c "import json,sys; p=sys.argv[1]; r=json.load(open(p)); json.dump({k: r[k] for k in ('wheel','sha256')}, open(p,'w'))" $M/.segkit-complete
  export SEGKIT_DATA=/tmp/ux/c_$side
  echo "--- 6.1 segkit data nuclei | 4.tif rows"
  seg $d data nuclei > /tmp/ux/out_$side.txt 2>/tmp/ux/err_$side.txt; echo "exit $?"
  grep -E "^(item|[0-9]+ )|4.tif" /tmp/ux/out_$side.txt | head -3; grep -c "RPE-1" /tmp/ux/out_$side.txt
  $PY - <<PY
import sys; sys.path.insert(0, '$d')
from segkit.data.sources import get_source
m = get_source('nuclei').meta.set_index('file')
print(m.loc[['training-data/2022-03-18_RPE1/images/4.tif','validation-data/2023-05-31_misc/images/4.tif'], ['cell_line','microscope']].to_string())
print(m.cell_line.value_counts().to_dict())
PY
  echo "--- 6.2 one cached image deleted: segkit data nuclei"
  mv $M/mnfinder/training-data/2022-05-25_RPE1/images/2.tif /tmp/ux/moved_$side.tif
  seg $d data nuclei > /tmp/ux/o.txt 2>/tmp/ux/e.txt; echo "exit $?"; head -1 /tmp/ux/o.txt; tail -2 /tmp/ux/e.txt
  mv /tmp/ux/moved_$side.tif $M/mnfinder/training-data/2022-05-25_RPE1/images/2.tif
  echo "--- 6.3 one cached TIFF truncated to half: segkit data nuclei"
  F=$M/mnfinder/training-data/2022-03-18_RPE1/images/4.tif; cp $F /tmp/ux/keep_$side.tif
  head -c 671185 /tmp/ux/keep_$side.tif > $F
  seg $d data nuclei > /tmp/ux/o.txt 2>/tmp/ux/e.txt; echo "exit $?"; head -1 /tmp/ux/o.txt; tail -2 /tmp/ux/e.txt
  echo "--- 6.4 segkit data --verify (same damage)"
  seg $d data --verify > /tmp/ux/o.txt 2>/tmp/ux/e.txt; echo "exit $?"; cat /tmp/ux/o.txt | head -8; tail -2 /tmp/ux/e.txt
  cp /tmp/ux/keep_$side.tif $F
  echo "--- 6.5 a byte changed in place (same size): segkit data --verify"
  $PY -c "import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); b[5000]^=1; open(p,'wb').write(b)" $F
  seg $d data --verify > /tmp/ux/o.txt 2>/tmp/ux/e.txt; echo "exit $?"; grep mnfinder /tmp/ux/o.txt; tail -1 /tmp/ux/e.txt
  cp /tmp/ux/keep_$side.tif $F
done

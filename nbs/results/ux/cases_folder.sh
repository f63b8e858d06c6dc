#!/bin/bash
PY=/work/main/.venv/bin/python
seg() { d=$1; shift; (cd /tmp/ux && PYTHONPATH=$d nice $PY -W ignore -c "import sys; from segkit.cli import main; sys.exit(main(sys.argv[1:]))" "$@"); }
rm -rf /tmp/ux/rgb /tmp/ux/mixed; $PY - <<'PY'
import numpy as np; from PIL import Image; from pathlib import Path
for name, mixed in (('rgb', False), ('mixed', True)):
    r = Path('/tmp/ux') / name; (r / 'images').mkdir(parents=True); (r / 'masks').mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):
        m = np.zeros((64, 64), np.uint8); m[10 + i:30 + i, 12:34] = 1
        im = np.stack([m * 200, m * 120, 40 + m * 10], -1).astype(np.uint8) + rng.integers(0, 30, (64, 64, 3), dtype=np.uint8)
        if mixed and i == 4: im = im[..., 0]
        Image.fromarray(im).save(r / 'images' / f'x{i}.png'); Image.fromarray(m).save(r / 'masks' / f'x{i}.png')
    (r / 'codes.txt').write_text('background\nobject\n')
PY
for side in before after; do
  d=/work/main; [ $side = after ] && d=/work/wt/ux
  export SEGKIT_DATA=/tmp/ux/c_$side
  echo "=================== $side"
  M=/tmp/ux/c_$side/packages/mnfinder-1.2.3; F=$M/mnfinder/training-data/2022-03-18_RPE1/images/4.tif
  echo "--- 6.6 a byte changed in place (same size): segkit data nuclei"
  $PY -c "import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); b[5000]^=1; open(p,'wb').write(b)" $F
  seg $d data nuclei > /tmp/ux/o.txt 2>/tmp/ux/e.txt; echo "exit $?"; head -1 /tmp/ux/o.txt; tail -1 /tmp/ux/e.txt
  cp /tmp/ux/keep_$side.tif $F
  echo "--- 6.7 a truncated TIFF in a local copy: segkit data nuclei --path COPY"
  rm -rf /tmp/ux/copy_$side; cp -r $M/mnfinder /tmp/ux/copy_$side; G=/tmp/ux/copy_$side/training-data/2022-03-18_RPE1/images/4.tif
  head -c 671185 /tmp/ux/keep_$side.tif > $G
  seg $d data nuclei --path /tmp/ux/copy_$side > /tmp/ux/o.txt 2>/tmp/ux/e.txt; echo "exit $?"; tail -1 /tmp/ux/e.txt
  rm -rf /tmp/ux/copy_$side
  echo "--- 6.8 RGB PNG folder: segkit data folder --path rgb"
  seg $d data folder --path /tmp/ux/rgb > /tmp/ux/o.txt 2>/tmp/ux/e.txt; echo "exit $?"; head -1 /tmp/ux/o.txt; sed -n 4,5p /tmp/ux/o.txt | cut -c1-60; tail -1 /tmp/ux/e.txt
  echo "--- 6.9 mixed RGB/grey folder: segkit data folder --path mixed"
  seg $d data folder --path /tmp/ux/mixed > /tmp/ux/o.txt 2>/tmp/ux/e.txt; echo "exit $?"; head -1 /tmp/ux/o.txt; tail -1 /tmp/ux/e.txt
  echo "--- 6.10 RGB folder: segkit run demo --source folder --path rgb --set kind=instance,epochs=1,steps=[]"
  rm -rf /tmp/ux/runs_$side
  seg $d run demo --source folder --path /tmp/ux/rgb --out /tmp/ux/runs_$side --set "kind=instance,epochs=1,steps=[]" > /tmp/ux/o.txt 2>/tmp/ux/e.txt; echo "exit $?"; grep -E "^demo \[|Dice|dice_fg" /tmp/ux/o.txt | head -14; tail -1 /tmp/ux/e.txt
done

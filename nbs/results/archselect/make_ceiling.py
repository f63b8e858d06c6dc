"""Per-sample AJI⁺ of two label-map methods against the overlapping mask-stack truth of `nuclei_overlap` test scenes.

Writes `label_map_ceiling.csv` next to this file (read by nbs/06e_metrics.archselect.ipynb). Run from the repository root:
    nice python nbs/results/archselect/make_ceiling.py
- `ceiling`: the best any one-label-per-pixel method can output (`stack_to_labels`: overlap pixels to one object), i.e.
  the representational limit of a U-Net-style method, no training involved;
- `watershed`: a classical label-map pipeline (Otsu threshold of the percentile-normalised image → distance-transform
  watershed, `segkit.instances.postprocess.distance_watershed`), no training either.
No network is trained here: this measures the data and the metric, not U-Net vs Mask R-CNN (the `archselect` recipe does).
"""
from pathlib import Path
import numpy as np, pandas as pd
from skimage.filters import threshold_otsu
from segkit.data.overlap import nuclei_overlap
from segkit.metrics.efficiency import psi_goc, psi_ofc, complexity_bins
from segkit.metrics.instance import instance_scores_stack
from segkit.metrics.archselect import stack_to_labels
from segkit.instances.postprocess import distance_watershed

N, SEED, SIZE = 120, 0, 128
ds = nuclei_overlap(n_scenes=(0, 0, N), size=SIZE, seed=SEED)
rows = []
for i in range(len(ds)):
    it = ds[i]; st, img = it['instances'], it['image']
    p = np.clip(img / np.percentile(img, 99.5), 0, 1)
    ws = distance_watershed(p, thresh=float(threshold_otsu(p)), min_distance=5)
    rows.append(dict(item=i, level=int(ds.meta.level[i]), n_objects=len(st), psi_goc=psi_goc(st), psi_ofc=psi_ofc(st),
                     ceiling=instance_scores_stack(st, stack_to_labels(st))['aji_plus'],
                     watershed=instance_scores_stack(st, ws)['aji_plus'], oracle_stack=instance_scores_stack(st, st)['aji_plus']))
df = pd.DataFrame(rows)
df['bin'] = complexity_bins(df.psi_goc.values, 6) + 1
df.attrs = {}
out = Path(__file__).with_name('label_map_ceiling.csv')
with open(out, 'w') as f:
    f.write(f"# nuclei_overlap test scenes: n_scenes=(0, 0, {N}), size={SIZE}, seed={SEED}; written by make_ceiling.py\n")
    df.to_csv(f, index=False, float_format='%.6f')
print(df.groupby('bin')[['psi_goc', 'psi_ofc', 'ceiling', 'watershed']].mean().round(3))

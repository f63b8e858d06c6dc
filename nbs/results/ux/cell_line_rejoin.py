"""What the nuclei cell-line re-join (bare file name → full relative path) changes in committed results.

Run from the repository root: `nice -n 15 python nbs/results/ux/cell_line_rejoin.py` (about 1 min). Writes
`nbs/results/ux/cell_line_rejoin.json`: the images whose cell line changed, the `stratified` split of 01e under the old
and the new labels, and ψ_NQC / kNN of the random (He) encoder of the selfsl-bench quick preset under both labellings
(the pretext encoders' rows need their encoders, which a quick bench run retrains: ~16 min idle)."""
import json
from pathlib import Path
import numpy as np, pandas as pd, torch
from segkit.data.sources import get_source, fetch_package
from segkit.data.nuclei_tasks import stratified_split
from segkit.core import VALID, TEST
from segkit.recipes.selfsl import representation_scores, build_encoder
from segkit.selfsl.transfer import instance_data

torch.set_num_threads(1)
ds = get_source('nuclei')
meta = ds.meta.copy()
info = pd.read_csv(fetch_package('mnfinder', '1.2.3', expect=('mnfinder/test-data/image-info.csv',)) / 'mnfinder' / 'test-data' / 'image-info.csv')
bare = info.drop_duplicates('image', keep='last').set_index('image')['cell_type']   # the join before commit 2026-11-26 (bare file name)
def old_line(rel, acq):
    name = rel.rsplit('/', 1)[-1]
    if name in bare.index: return bare[name]
    return {'RPE1': 'RPE-1', 'U2OS': 'U2OS'}.get(next((c for c in ('RPE1', 'U2OS') if acq.endswith(c)), None), 'unknown')
meta['old'] = [old_line(r, a) for r, a in zip(meta['file'], meta['acquisition'])]
changed = meta[meta['old'] != meta['cell_line']]
out = dict(counts_old=meta['old'].value_counts().to_dict(), counts_new=meta['cell_line'].value_counts().to_dict(),
           changed=[dict(index=int(i), file=r['file'], split=str(ds.split[i]), old=r['old'], new=r['cell_line']) for i, r in changed.iterrows()])
nv, nt = int((ds.split == VALID).sum()), int((ds.split == TEST).sum())
sp_old, sp_new = stratified_split(meta['old'].to_numpy(), nv, nt, 0), stratified_split(meta['cell_line'].to_numpy(), nv, nt, 0)
moved = np.flatnonzero(sp_old != sp_new)
out['stratified_split_seed0'] = dict(items_in_another_split=len(moved), moved=[dict(index=int(i), file=meta['file'][i], old=str(sp_old[i]), new=str(sp_new[i])) for i in moved],
                                     test_lines_old=sorted(set(meta['old'][sp_old == 'test'])), test_lines_new=sorted(set(meta['cell_line'][sp_new == 'test'])))
cfg = json.loads(Path('nbs/results/selfsl-bench/run.json').read_text())['config']   # the committed run's options
data = instance_data('nuclei')
assert (data['classes'] == meta['cell_line'].astype(str).to_numpy()).all(), "instance_data's classes are the source's cell lines"
enc = build_encoder(cfg['encoder'], cfg['seed']).eval()
new = representation_scores(enc, data, cfg)
old = representation_scores(enc, dict(data, classes=meta['old'].astype(str).to_numpy()), cfg)
out['random_encoder'] = dict(old=old, new=new, committed=pd.read_csv('nbs/results/selfsl-bench/representation.csv').set_index('method').loc['random', ['psi_nqc', 'knn']].to_dict())
Path('nbs/results/ux/cell_line_rejoin.json').write_text(json.dumps(out, indent=1, default=float))
print(json.dumps(out, indent=1, default=float))

"""Re-score saved SPOCO quick-run nets with the current clusterers (`spoco_eval`), and write results.csv / metrics.csv / report.md here.

Used because the fixes of this round are clustering-only (`min_seg`, `aff_delta_d`, `connected`): training code and quick-preset
training options are unchanged, so the nets of earlier quick runs are what a rerun would train. Usage (from the repository root):
`python nbs/results/spoco/reeval.py OUT SETTING=CKPT:RESULTS_CSV ...` (RESULTS_CSV: the run's results.csv row with the training facts)."""
import sys, time, json, dataclasses
from pathlib import Path
import numpy as np, pandas as pd, torch
from segkit.models.unet import UNet
from segkit.recipes.spoco import SpocoCfg, spoco_data, spoco_train_labels, spoco_eval, spoco_report

out, specs = Path(sys.argv[1]), [a.split('=', 1) for a in sys.argv[2:]]
cfg = SpocoCfg(preset='quick', settings=tuple(s for s, _ in specs))
data = spoco_data('nuclei')
rows = []
for setting, spec in specs:
    ckpt, csv = spec.split(':')
    t0 = time.time()
    old = pd.read_csv(csv).set_index('setting').loc[setting]
    net = UNet(1, cfg.dim, depth=cfg.depth, base=cfg.base); net.load_state_dict(torch.load(ckpt, map_location='cpu')); net.eval()
    tr = spoco_train_labels(data, setting, cfg, 0)
    min_seg = int(round(cfg.min_seg * float(tr.table.area.median())))
    res = spoco_eval(net, data, cfg, min_seg)[0]
    keep = ['labelled', 'objects', 'annotated_px', 'steps', 'epochs', 'train_seconds']
    rows.append(dict(setting=setting, seed=0, **{k: old[k] for k in keep}, **res, eval_seconds=round(time.time() - t0, 1), net=str(ckpt)))
    print(setting, {k: round(v, 3) for k, v in res.items() if k.startswith('sbd')}, flush=True)
df = pd.DataFrame(rows); df.to_csv(out / 'results.csv', index=False)
cols = [c for c in df.columns if c.startswith(('sbd_', 'aji_plus_'))]
long = df.groupby('setting', sort=False)[cols].mean().reset_index().melt(id_vars='setting')
pd.DataFrame(dict(split=long.setting, metric=long.variable, value=long.value)).to_csv(out / 'metrics.csv', index=False)
(out / 'config.json').write_text(json.dumps(dataclasses.asdict(cfg) | dict(recipe='spoco', nets=dict(specs)), indent=2, default=str))
intro = (f"Quick preset, 1 seed; data `{data['name']}` (real fluorescence nuclei; {len(data['train'][0])} train / {len(data['valid'][0])} valid images, "
         f"{cfg.n_test} test images as central {cfg.eval_crop}² crops). Nets from quick runs of the unchanged training code (`net` column of "
         f"`results.csv`), scored by `reeval.py` with the current clusterers (min_seg {cfg.min_seg}, Eq. 3.10 δ_d {cfg.aff_delta_d}, connected pieces {cfg.connected}).")
(out / 'report.md').write_text(spoco_report(df, cfg, intro).text)

"""Why `upgrade-cost` (quick) upgraded labels got worse than the LQ labels: u_θ per LQ image, for every `mix_hq` point.

Refits u_θ as the recipe's `mix-{n}` steps did with the first quick preset (same data, draw, options and seed; u_θ 8 epochs —
the preset trains 24 since this check) and writes, per upgraded image,
the foreground fraction of the upgraded, LQ and true labels, the Dice of each, and the image's median intensity
(the images are min–max scaled, so a brighter background has a higher median). Run from the repository root:
`python nbs/results/noise/cost_flood_check.py` (about 2 minutes on one core) → `cost_flood_check.csv`;
`... cost_flood_check.py percentile` repeats it with every image percentile-normalised (1 / 99.8, `segkit.core.normalize_percentile`)
instead of the source's min–max scaling → `cost_flood_check_percentile.csv` (a candidate remedy; the recipes are unchanged);
`... cost_flood_check.py minmax 24` trains every u_θ 24 epochs instead of 8 → `cost_flood_check_up24.csv` (what the preset now does);
`... cost_flood_check.py minmax 24 intensity` adds u_θ's `intensity` jitter (`TrainOpts.aug`) → `cost_flood_check_up24_intensity.csv`.
"""
import sys
import numpy as np, pandas as pd, torch
from pathlib import Path
from segkit.experiments import cfg_from
from segkit.recipes.noise import CostCfg, instance_data, lq_draw, _topts
from segkit.pseudo.upgrade import fit_upgrader, upgrade, pooled_dice, hq_split
from segkit.core import normalize_percentile

torch.set_num_threads(1)
cfg = cfg_from(CostCfg)
data = instance_data('nuclei', None, max_size=cfg.max_size)
ims, inst, oth = data['train']
norm = sys.argv[1] if len(sys.argv) > 1 else 'minmax'
up_epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 8     # the preset's u_θ epochs when this check was written (24 since)
aug = sys.argv[3] if len(sys.argv) > 3 else 'none'           # u_θ's photometric jitter (`up_aug` of the recipes)
if norm == 'percentile': ims = [normalize_percentile(a) for a in ims]
lq_all = lq_draw((ims[:cfg.pool], inst[:cfg.pool], oth[:cfg.pool]), cfg.perturbation, cfg.seed)
rows = []
for n in cfg.mix_hq:
    tr, va = hq_split(n, 0.2)
    u = fit_upgrader((ims[:n], inst[:n]), cfg.perturbation, oth[:n], _topts(cfg, up_epochs, aug), seed=cfg.seed)
    up = upgrade(u, ims[n:cfg.pool], lq_all[n:])
    for j, (a, l, t) in enumerate(zip(up, lq_all[n:], inst[n:cfg.pool])):
        rows.append(dict(n_hq=n, u_train_images=len(tr), image=n + j, median_intensity=float(np.median(ims[n + j])),
                         fg_true=float((t > 0).mean()), fg_lq=float((np.asarray(l) > 0).mean()), fg_up=float(a.mean()),
                         dice_lq=pooled_dice([l], [t]), dice_up=pooled_dice([a], [t])))
tag = ('' if norm == 'minmax' else f'_{norm}') + ('' if up_epochs == 8 else f'_up{up_epochs}') + ('' if aug == 'none' else f'_{aug}')
out = Path(__file__).with_name(f'{Path(__file__).stem}{tag}.csv')
pd.DataFrame(rows).to_csv(out, index=False)
print(pd.DataFrame(rows).round(3).to_string(index=False))

"""Which photometric jitter stops u_θ flooding image 7 of `upgrade-cost` (quick)? A one-off probe behind `TrainOpts.aug`.

Refits the three u_θ of `cost_flood_check.py minmax 24` (same pool, LQ draw, options and seed; 24 epochs), each training
crop's image channel jittered per item as named, and writes the upgraded Dice per LQ image → `aug_probe_{mode}.csv`:
- `gaincontrast`: `BatchAug` contrast 0.5–1.5 and gain 0.6–1.4 (p = 1), no additive shift;
- `gamma`: x ← clip(x, 0, 1)^γ, log γ uniform in [log ½, log 2].
(The shift that works is the `intensity` preset, checked through the real option by
`cost_flood_check.py minmax 24 intensity`.) The jitter is applied in the dataset here, not in the `ImageAug` callback,
so its random stream differs from the option's. Run from the repository root, one mode per call (about 3 minutes on one core).
"""
import sys
import numpy as np, pandas as pd, torch
from pathlib import Path
import segkit.pseudo.upgrade as U
from segkit.experiments import cfg_from
from segkit.selfsl.pretext import BatchAug
from segkit.recipes.noise import CostCfg, instance_data, lq_draw, _topts
from segkit.pseudo.upgrade import fit_upgrader, upgrade, pooled_dice

torch.set_num_threads(1)
mode = sys.argv[1]
if mode not in ('gaincontrast', 'gamma'): raise SystemExit(f"mode: expected 'gaincontrast' or 'gamma', got {mode!r}")
item, rng = U.UpgradeDataset.__getitem__, np.random.default_rng(0)
ba = BatchAug(scale=None, flip=0., rot90=False, contrast=(0.5, 1.5), p_contrast=1., brightness=(0.6, 1.4), p_brightness=1., seed=3)
def jittered(self, i):
    x, y = item(self, i)
    if self.mode != 'online': return x, y
    x, n = x.clone(), self.n_img
    if mode == 'gaincontrast': x[:n] = ba(x[None, :n])[0]
    else: x[:n] = x[:n].clamp(0, 1) ** float(np.exp(rng.uniform(np.log(0.5), np.log(2))))
    return x, y
U.UpgradeDataset.__getitem__ = jittered

cfg = cfg_from(CostCfg)
ims, inst, oth = instance_data('nuclei', None, max_size=cfg.max_size)['train']
lq_all = lq_draw((ims[:cfg.pool], inst[:cfg.pool], oth[:cfg.pool]), cfg.perturbation, cfg.seed)
rows = []
for n in cfg.mix_hq:
    u = fit_upgrader((ims[:n], inst[:n]), cfg.perturbation, oth[:n], _topts(cfg, 24), seed=cfg.seed)
    for j, (a, l, t) in enumerate(zip(upgrade(u, ims[n:cfg.pool], lq_all[n:]), lq_all[n:], inst[n:cfg.pool])):
        rows.append(dict(mode=mode, n_hq=n, image=n + j, fg_true=float((t > 0).mean()), fg_up=float(a.mean()),
                         dice_lq=pooled_dice([l], [t]), dice_up=pooled_dice([a], [t])))
pd.DataFrame(rows).to_csv(Path(__file__).with_name(f'aug_probe_{mode}.csv'), index=False)
print(pd.DataFrame(rows).round(3).to_string(index=False))

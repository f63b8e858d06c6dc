"""Why did `upgrade-cost` (quick) framework points collapse once u_θ's labels were good? Segmenters at 4 epochs are undertrained.

Trains the recipe's segmenter (`train_segmenter`, quick `upgrade-cost` options, seed 0) on the first n clean HQ images of the pool
for 4 and 12 epochs and writes test Dice, validation Dice and the predicted vs true foreground fraction per test image
→ `segmenter_epochs_check.csv`. Run from the repository root (about 3 minutes on one core).
"""
import numpy as np, pandas as pd, torch
from pathlib import Path
from segkit.experiments import cfg_from
from segkit.recipes.noise import CostCfg, instance_data, _topts
from segkit.pseudo.upgrade import train_segmenter, pooled_dice
from segkit.learner import predict_masks

torch.set_num_threads(1)
cfg = cfg_from(CostCfg)
data = instance_data('nuclei', None, max_size=cfg.max_size)
ims, inst, _ = data['train']; (vi, vl, _), (ti, tl, _) = data['valid'], data['test']
rows = []
for n in (2, 7, 8):
    for ep in (4, 12):
        m, info = train_segmenter(ims[:n], inst[:n], vi, vl, _topts(cfg, ep), seed=cfg.seed)
        p = predict_masks(m, ti, bs=2)
        fg_p, fg_t = [float((np.asarray(a) > 0).mean()) for a in p], [float((np.asarray(b) > 0).mean()) for b in tl]
        rows.append(dict(n_train=n, epochs=ep, test_dice=pooled_dice(p, tl), valid_dice=info['valid_dice'],
                         flooded_test_images=int(sum(a > 2 * b for a, b in zip(fg_p, fg_t))),
                         fg_pred_over_true=float(np.sum(fg_p) / np.sum(fg_t))))
        print(rows[-1], flush=True)
pd.DataFrame(rows).to_csv(Path(__file__).with_name('segmenter_epochs_check.csv'), index=False)
print(pd.DataFrame(rows).round(3).to_string(index=False))

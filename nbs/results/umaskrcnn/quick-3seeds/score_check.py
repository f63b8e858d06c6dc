"""How many confident detections each detector of the 3-seed quick run makes on the test images, against the true objects.

Loads the run's checkpoints (not committed: 6 × ~10 MB; pass the run folder) and writes `score_check.csv`: per model and seed,
the number of detections with score ≥ 0.5, their mean score, and the true object count. Run from the repository root:
`python nbs/results/umaskrcnn/quick-3seeds/score_check.py RUN_FOLDER` (about a minute on one core).
"""
import sys, json
from pathlib import Path
import numpy as np, pandas as pd, torch
from segkit.experiments import cfg_from
from segkit.recipes.umaskrcnn import UMaskCfg, _prepare, native_size
from segkit.models.rcnn import mask_rcnn, umask_rcnn
from segkit.models.weights import load_state

torch.set_num_threads(1)
run = Path(sys.argv[1])
cfg = cfg_from(UMaskCfg, overrides={k: v for k, v in json.loads((run / 'config.json').read_text()).items() if k in UMaskCfg.__dataclass_fields__ and k not in ('env', 'preset', 'recipe')})
data = _prepare(cfg); d = data['test']
rows = []
for name in ('mask_rcnn', 'umask_rcnn'):
    for seed in range(cfg.seeds):
        kw = dict(backbone=cfg.backbone, size=cfg.crop, detections=cfg.detections)
        model = umask_rcnn(k=cfg.k, xi=cfg.xi, **kw) if name == 'umask_rcnn' else mask_rcnn(**kw)
        model.load_state_dict(load_state(run / 'checkpoints' / f'{name}-seed{seed}.pth')); model.eval()
        n05, sc, n_true = 0, [], 0
        for im, lb in zip(d['images'], d['labels']):
            with torch.no_grad(), native_size(model, im.shape): det = model([torch.as_tensor(im, dtype=torch.float32)[None]])[0]
            s = det['scores'].numpy(); n05 += int((s >= 0.5).sum()); sc += list(s[s >= 0.5]); n_true += len(np.unique(lb[lb > 0]))
        rows.append(dict(model=name, seed=seed, detections_05=n05, mean_score_05=float(np.mean(sc)) if sc else np.nan, true_objects=n_true))
out = pd.DataFrame(rows); out.to_csv(Path(__file__).with_name('score_check.csv'), index=False)
print(out.round(3).to_string(index=False))

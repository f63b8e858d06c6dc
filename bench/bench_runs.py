"""Benchmarks and result files of the `runs` branch (issue 15): tiled prediction, and `segkit predict` on the real nuclei.

`python bench/bench_runs.py predict_nuclei` trains a small `demo` run on `nuclei` (CPU: a few minutes), applies it to the
source's test images with the `segkit predict` command, and scores the instance labels against the expert labels:
`nbs/results/runs/predict_nuclei.csv` (per image) and `.json` (settings, summary, versions), read by `nbs/14e_predict.ipynb`.
"""
from __future__ import annotations
import json, sys, tempfile, time
from pathlib import Path
import numpy as np
import torch
from harness import benchmark

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / 'nbs' / 'results' / 'runs'

@benchmark('predict_tiled', 'predict_image: 256² tiles, 32 px overlap', 'predict_masks: the whole image at once',
           'a depth-3 U-Net (16 base maps) on one 768×869 nuclei test image', max_repeats=3)
def _predict_tiled():
    from segkit.data.sources import get_source
    from segkit.models.unet import UNet
    from segkit.core import default_device
    from segkit.predict import Predictor, predict_image, model_input
    from segkit.learner import predict_masks
    ds = get_source('nuclei')
    img = ds.image(ds.indices('test')[0], normalize=False)
    with torch.random.fork_rng(): torch.manual_seed(0); m = UNet(1, 2, depth=3, base=16).to(default_device()).eval()
    p = Predictor('unet', m, 1, ('background', 'nucleus'))
    x = model_input(img, 1)
    return (lambda: predict_image(p, img, tile=256, overlap=32, postprocess='none'), lambda: predict_masks(m, [x]),
            lambda: dict(pixels=int(img.size), max_abs_prob_diff=float(np.abs(predict_image(p, img, 256, 32, postprocess='none')['probs']
                                                                             - predict_masks(m, [x], return_probs=True)[1][0]).max())))

def predict_nuclei(epochs:int=6, seed:int=0, run_path=None):
    "Train a small demo U-Net on `nuclei`, `segkit predict` its test images, score the instances; write the result files."
    from segkit.experiments import run_recipe, env_info
    from segkit.data.sources import get_source, _write_tif
    from segkit.metrics.instance import instance_scores
    from segkit.cli import main
    import pandas as pd, tifffile
    opts = dict(epochs=epochs, depth=3, base=16, crop=128, epoch_len=96, bs=8, steps=[], seed=seed)
    tmp = Path(tempfile.mkdtemp())
    t0 = time.time()
    if run_path is None: run = run_recipe('demo', out=tmp / 'runs', **opts, verbose=False)
    else: run = run_recipe('demo', resume=run_path, verbose=False)   # a finished run: reused as it is
    t_train = time.time() - t0 if run_path is None else json.loads((run.path / 'status.json').read_text()).get('train_seconds', float('nan'))
    ds = get_source('nuclei')
    test = ds.indices('test')
    names = [ds.meta['file'].iloc[i].replace('/', '__').removesuffix('.tif') for i in test]
    (tmp / 'images').mkdir()
    for i, n in zip(test, names): _write_tif(tmp / 'images' / f'{n}.tif', ds.image(i, normalize=False))   # raw files, as a user has them
    t0 = time.time()
    code = main(['predict', str(run.path), str(tmp / 'images'), '--out', str(tmp / 'pred')])
    t_pred = time.time() - t0
    if code != 0: raise SystemExit(f"segkit predict failed with exit code {code}")
    csv = pd.read_csv(tmp / 'pred' / 'predictions.csv').set_index('name')
    rows = []
    for i, n in zip(test, names):
        gt = ds.label(i, 'instances')
        pr = tifffile.imread(tmp / 'pred' / 'instances' / f'{n}.tif')
        sc = instance_scores(gt, pr)
        rows.append(dict(image=ds.meta['file'].iloc[i], height=gt.shape[0], width=gt.shape[1], objects_true=int(len(np.unique(gt)) - 1),
                         objects_pred=int(csv.loc[n, 'objects']), area_median_pred=csv.loc[n, 'area_median'],
                         aji_plus=round(float(sc['aji_plus']), 4), f1=round(float(sc['f1']), 4), seconds=csv.loc[n, 'seconds']))
    df = pd.DataFrame(rows)
    OUT.mkdir(parents=True, exist_ok=True)
    import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt
    from segkit.core import label_overlay
    k = int(np.argsort(df.aji_plus.to_numpy())[len(df) // 2])   # the median image by AJI⁺
    i, n = test[k], names[k]
    img = ds.image(i); r, c = (np.array(img.shape) - 384) // 2
    crop = lambda a: a[r:r + 384, c:c + 384]
    fig, axs = plt.subplots(1, 3, figsize=(10.5, 3.8))
    for ax, (title, a) in zip(axs, [('test image', None), (f"expert labels ({df.objects_true[k]} nuclei)", ds.label(i, 'instances')),
                                    (f"segkit predict ({df.objects_pred[k]}; AJI⁺ {df.aji_plus[k]:.3f})", tifffile.imread(tmp / 'pred' / 'instances' / f'{n}.tif'))]):
        ax.imshow(crop(img), cmap='gray') if a is None else ax.imshow(label_overlay(crop(img), crop(a)))
        ax.set_title(title, fontsize=9); ax.set_axis_off()
    fig.tight_layout(); fig.savefig(OUT / 'predict_nuclei.png', dpi=90); plt.close(fig)
    df.to_csv(OUT / 'predict_nuclei.csv', index=False)
    metrics = pd.read_csv(run.path / 'metrics.csv')
    dice = float(metrics.query("split == 'test' and metric == 'dice_fg (pooled)'")['value'].iloc[0]) if 'dice_fg (pooled)' in set(metrics.metric) else None
    summary = (f"{len(df)} test images, {df.objects_true.sum()} true / {df.objects_pred.sum()} predicted nuclei; "
               f"mean AJI⁺ {df.aji_plus.mean():.3f}, mean F1@0.5 {df.f1.mean():.3f}; training {t_train:.0f} s, predict {t_pred:.0f} s "
               f"({env_info()['device_name']})")
    (OUT / 'predict_nuclei.json').write_text(json.dumps(dict(
        command=f"segkit run demo --set {','.join(f'{k}={v}' for k, v in opts.items() if k != 'steps')},steps=none; "
                f"segkit predict RUN IMAGES --out DIR (defaults: tile 256, overlap 32, instances auto = distance_watershed)",
        recipe_options=opts, test_dice_fg_pooled=dice, summary=summary, train_seconds=round(t_train, 1), predict_seconds=round(t_pred, 1),
        env=env_info()), indent=1, default=str))
    print(summary)
    return df

if __name__ == '__main__':
    if sys.argv[1:2] == ['predict_nuclei']: predict_nuclei(run_path=sys.argv[2] if len(sys.argv) > 2 else None)
    else: raise SystemExit("usage: python bench/bench_runs.py predict_nuclei   (benchmarks: python bench/run.py predict_tiled)")

"""SPOCO benchmarks (issue 21): torch mean-shift vs scikit-learn's `MeanShift`, clustering time per 256² image for each
clusterer, and one SPOCO training step (student + EMA teacher + consistency term) vs a plain U-Net step.

Run: `python bench/bench_spoco.py [names…] [--repeats N]` (writes bench/results/spoco/<name>.json and README.md), or
import this module from bench/run.py. Inputs are synthetic (timing only): 16 384 points in 16 dimensions around 20
centres; a 256² embedding map of 40 discs (one embedding centre each, background its own centre, Gaussian noise);
a batch of 4 crops of 96² from `synth_blobs`. Timings on a loaded machine are not trustworthy: run it alone.
"""
import argparse, statistics, sys, time
from functools import lru_cache
from pathlib import Path
import numpy as np
sys.path.insert(0, str(Path(__file__).parent))
from harness import benchmark, run_benchmarks

@lru_cache(None)
def _points(n:int=16384, d:int=16, k:int=20, seed:int=0):
    rng = np.random.default_rng(seed)
    c = rng.normal(0, 3, (k, d))
    return (c[rng.integers(0, k, n)] + rng.normal(0, 0.25, (n, d))).astype(np.float32)

@lru_cache(None)
def _emb_map(size:int=256, d:int=16, n:int=40, seed:int=0):
    "Embeddings (d, size, size): background at one centre, each disc at its own, plus noise; and the label map."
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    lbl = np.zeros((size, size), np.int32)
    for k, (y, x, r) in enumerate(zip(rng.integers(10, size - 10, n), rng.integers(10, size - 10, n), rng.integers(5, 10, n)), 1):
        lbl[(yy - y) ** 2 + (xx - x) ** 2 <= r * r] = k                    # a loop over discs (setup only, not timed)
    centres = rng.normal(0, 2, (n + 1, d))
    return (centres[lbl].transpose(2, 0, 1) + rng.normal(0, 0.1, (d, size, size))).astype(np.float32), lbl

@benchmark('spoco_meanshift_sklearn', 'segkit torch mean_shift', 'sklearn.cluster.MeanShift (same seeds)',
           'flat-kernel mean-shift on 16 384 points × 16 dims, 64 seeds, bandwidth 1 (target ≥ 10×)', max_repeats=3)
def _meanshift():
    from sklearn.cluster import MeanShift
    from segkit.instances.embeddings import mean_shift
    X = _points(); seeds = X[np.random.default_rng(1).choice(len(X), 64, replace=False)]
    return (lambda: mean_shift(X, 1.0, seeds=seeds)), (lambda: MeanShift(bandwidth=1.0, seeds=seeds).fit(X))

@benchmark('spoco_clustering_256', "mws_embedding (Eq. 3.10 affinities + bioimage-cpp mutex watershed)", 'hdbscan (scikit-learn, subsample-and-assign)',
           'clustering one 256² embedding map (D = 16); extra: the median seconds of every clusterer', max_repeats=5)
def _clustering():
    from segkit.instances.embeddings import mws_labels, hdbscan_labels, mean_shift_labels, consistency_clustering
    E, _ = _emb_map()
    G = E + np.random.default_rng(2).normal(0, 0.05, E.shape).astype(np.float32)
    fns = dict(meanshift=lambda: mean_shift_labels(E, 0.5), hdbscan=lambda: hdbscan_labels(E, 20),
               mws_embedding=lambda: mws_labels(E), consistency=lambda: consistency_clustering(E, G, 0.5))
    def extra():
        out = {}
        for k, f in fns.items():
            f(); ts = []
            for _ in range(3): t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
            out[f'{k}_s'] = statistics.median(ts)
        return out
    return fns['mws_embedding'], fns['hdbscan'], extra

@benchmark('spoco_step_vs_unet', 'plain U-Net step (cross-entropy, 2 classes)', 'SPOCO step (SpocoLoss + EMA teacher + L_U_con)',
           'one training step, batch 4 × 96², U-Net depth 3 / 16 maps; speedup = SPOCO time / plain time (the cost ratio)', max_repeats=7)
def _step():
    import torch
    from segkit.core import synth_blobs, ema_update, momentum_copy
    from segkit.models.unet import UNet
    from segkit.losses import SpocoLoss, consistency_term
    from segkit.instances.spoco import photometric_views
    from segkit.labels.objects import pu_target
    bl = synth_blobs(4, 96, seed=0)
    x = torch.as_tensor(np.stack(bl.images)[:, None], dtype=torch.float32)
    y = torch.as_tensor(np.stack([pu_target(m, np.unique(m)[1::2]) for m in bl.masks]))       # every other object labelled
    torch.manual_seed(0)
    emb_net, seg_net = UNet(1, 16, depth=3, base=16), UNet(1, 2, depth=3, base=16)
    teacher = momentum_copy(emb_net)
    o1, o2 = torch.optim.Adam(emb_net.parameters(), 1e-3), torch.optim.Adam(seg_net.parameters(), 1e-3)
    loss, vf, vg = SpocoLoss(), *photometric_views(0)
    gen, ce, yc = torch.Generator().manual_seed(0), torch.nn.CrossEntropyLoss(), torch.as_tensor(np.stack(bl.masks) > 0).long()
    def spoco():
        e = emb_net(vf(x)); l = loss(e, y)
        with torch.no_grad(): eg = teacher(vg(x))
        l = l + consistency_term(e, eg, y, generator=gen)[0]
        o1.zero_grad(); l.backward(); o1.step(); ema_update(emb_net, teacher, 0.999)
    def plain():
        l = ce(seg_net(x), yc); o2.zero_grad(); l.backward(); o2.step()
    return plain, spoco

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('names', nargs='*', help='benchmarks (default: all spoco_* ones)')
    p.add_argument('--repeats', type=int, default=7)
    a = p.parse_args()
    run_benchmarks(a.names or [n for n in ('spoco_meanshift_sklearn', 'spoco_clustering_256', 'spoco_step_vs_unet')], a.repeats,
                   str(Path(__file__).parent / 'results' / 'spoco'))

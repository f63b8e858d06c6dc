"""Few-shot perceptron fit (issue 19): K = 5 support windows of 256² with C′ = 75 and 150 features.

Candidate: `fit_perceptron(optimizer='bfgs')` (logistic-regression warm start + scipy BFGS, gtol 1e-5 in the 2-norm);
reference: `fit_perceptron(optimizer='lbfgs')` (the same warm start + torch L-BFGS on the default device). The extra
record holds the logistic-regression time alone, both objectives and their difference, convergence, and the design
matrix's size and precision (float64 below 1 GB, else the float32 fallback).

Features: untrained MSD networks (depth = C′, width 1, `pretrained=False`, seeded) on five real `hgsc_nuclei` training
windows that contain neoplastic nuclei, and those nuclei as targets; a fit's cost depends on sizes and conditioning,
not on whether the extractor was trained.
Run: `python bench/run.py fewshot_fit_75 fewshot_fit_150` (after `import bench_fewshot` is in bench/run.py), or
`python -c "import sys; sys.path.insert(0, 'bench'); import bench_fewshot; bench_fewshot.main()"` → nbs/results/fewshot/bench/.
"""
from __future__ import annotations
import time
import numpy as np
import torch
from harness import benchmark, run_benchmarks

def _design(n_features:int, k:int=5, seed:int=0):
    from segkit.core import torch_seeded
    from segkit.data.hgsc import hgsc_nuclei
    from segkit.models.msd import MSD
    from segkit.fewshot import FeatureStack, stack_features, draw_supports, support_pixels
    ds = hgsc_nuclei()
    ims, labs = ds.arrays('train', layer='semantic', normalize=False)
    masks = [(l == 3).astype(np.int64) for l in labs]
    sup = draw_supports(masks, k, seed)
    with torch_seeded(seed): net = MSD(3, 2, depth=n_features)
    net.fewshot_class = 'other'
    feats = stack_features(FeatureStack([net]), [np.asarray(ims[i], np.float32) / 255 for i in sup], bs=1)
    return support_pixels(feats, [masks[i] for i in sup])

def _fit_bench(n_features:int):
    from segkit.fewshot import fit_perceptron
    X, y, idx = _design(n_features)
    out = {}
    def run(opt):
        def f(): out[opt] = fit_perceptron(X, y, idx, lam=1e-3, optimizer=opt)[1]
        return f
    def extra():
        a, b = out['bfgs'], out['lbfgs']
        t = time.perf_counter(); lr = fit_perceptron(X, y, idx, lam=1e-3, optimizer='logreg')[1]; t_lr = time.perf_counter() - t
        return dict(pixels=len(y), features=X.shape[1], design=a.design, logreg_s=round(t_lr, 2), bfgs_s=round(a.seconds, 2), lbfgs_s=round(b.seconds, 2),
                    objective_logreg=round(lr.objective, 6), objective_bfgs=round(a.objective, 6), objective_lbfgs=round(b.objective, 6),
                    objective_diff=float(f"{abs(a.objective - b.objective):.2e}"), agree_1e3=abs(a.objective - b.objective) < 1e-3,
                    bfgs_converged=a.converged, bfgs_grad_norm=float(f"{a.grad_norm:.2e}"), bfgs_iter=a.n_iter,
                    lbfgs_converged=b.converged, lbfgs_grad_norm=float(f"{b.grad_norm:.2e}"), lbfgs_iter=b.n_iter,
                    lbfgs_device=str(torch.device('cuda' if torch.cuda.is_available() else 'cpu')))
    return run('bfgs'), run('lbfgs'), extra

@benchmark('fewshot_fit_75', 'LR + scipy BFGS', 'LR + torch L-BFGS', 'few-shot perceptron fit, K=5 × 256², C′=75', max_repeats=1)
def fewshot_fit_75(): return _fit_bench(75)

@benchmark('fewshot_fit_150', 'LR + scipy BFGS', 'LR + torch L-BFGS', 'few-shot perceptron fit, K=5 × 256², C′=150', max_repeats=1)
def fewshot_fit_150(): return _fit_bench(150)

def main(out='nbs/results/fewshot/bench'):
    return run_benchmarks(['fewshot_fit_75', 'fewshot_fit_150'], repeats=1, out=out)

"""Benchmarks of issue 17 (Inconsistency Masks): `python bench/bench_im.py [names]` writes bench/results/im/*.json and README.md."""
import sys, warnings
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
warnings.filterwarnings('ignore', category=FutureWarning)
import numpy as np
import torch
from harness import benchmark, run_benchmarks
from cputime import cpu_ratio

def _pm(b=64, n=2, s=256, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.random((b, 1, s, s)) > 0.5
    return np.where(rng.random((b, n, s, s)) < 0.1, ~base, base).astype(np.uint8)

@benchmark('im_build', 'segkit im_binary (vectorised amin/amax; per-image counts 8 pixels per word)',
           'Alg. 1 per image (sum, compare, count)', 'binary IM of 64 images × 2 teachers × 256², with the per-image IM and foreground counts')
def _im_build():
    from segkit.pseudo.im import im_binary
    pm = _pm()
    def loop():
        out = []
        for p in pm:
            S = p.sum(0); n = len(p)
            F, I = (S == n).astype(np.uint8), ((S != 0) & (S != n)).astype(np.uint8)
            out.append((F, I, int(I.sum()), int(F.sum())))           # the counts im_binary's stats hold
        return out
    ref, got = loop(), im_binary(pm)
    assert all(np.array_equal(f, a) and np.array_equal(i, b) for (f, i, *_), a, b in zip(ref, got.F, got.I))
    assert [r[2:] for r in ref] == list(zip(got.stats.im_px.tolist(), got.stats.fg_px.tolist()))
    t = torch.from_numpy(pm).bool()
    def extra():
        import time
        def tm(f, r=5):
            f(); ts = []
            for _ in range(r): t0 = time.perf_counter(); f(); ts.append(time.perf_counter() - t0)
            return float(np.median(ts))
        a = tm(lambda: (t.amin(1), t.amax(1)))
        b = tm(lambda: (t.all(1), t.any(1)))
        def loop_fi():                                                  # the per-image loop without the counts
            for p in pm: S = p.sum(0); n = len(p); (S == n).astype(np.uint8), ((S != 0) & (S != n)).astype(np.uint8)
        fi, lfi = tm(lambda: im_binary(pm)[:2]), tm(loop_fi)
        return dict(**cpu_ratio(lambda: im_binary(pm), loop), torch_cpu_all_any_ms=round(b * 1e3, 2), torch_cpu_amin_amax_ms=round(a * 1e3, 2), all_any_over_amin_amax=round(b / a, 1),
                    im_binary_ms=round(fi * 1e3, 2), loop_without_counts_ms=round(lfi * 1e3, 2), speedup_vs_loop_without_counts=round(lfi / fi, 1))
    return (lambda: im_binary(pm)), loop, extra

@benchmark('im_morph', 'segkit erode (max_pool2d, all images at once)', 'scipy binary_erosion(border_value=1) per image',
           'erosion of 64 masks 256² with a 5×5 square')
def _im_morph():
    from scipy import ndimage as ndi
    from segkit.pseudo.im import erode
    m = (np.random.default_rng(0).random((64, 256, 256)) > 0.3).astype(np.uint8)
    k = np.ones((5, 5))
    return (lambda: erode(m, 5)), (lambda: [ndi.binary_erosion(x, k, border_value=1) for x in m])

@benchmark('onebyone_step', '1x1 U-Net α=0.5 training step', 'thesis UNet(1, 2, depth 3, base 16) training step',
           'one forward+backward+AdamW step on 8 × 1 × 128²', max_repeats=5)
def _step():
    from segkit.models.imunet import OneByOneUNet
    from segkit.models.unet import UNet
    x, y = torch.rand(8, 1, 128, 128), torch.randint(0, 2, (8, 128, 128))
    def stepper(m):
        opt = torch.optim.AdamW(m.parameters(), 3e-3)
        def f():
            opt.zero_grad(); torch.nn.functional.cross_entropy(m(x), y).backward(); opt.step()
        return f
    return stepper(OneByOneUNet(1, 2, 0.5)), stepper(UNet(1, 2, 3, 16))

@benchmark('teacher_inference', 'predict_probs, 1x1 U-Net α=0.5 (padded to 16)', 'predict_probs, 1x1 U-Net α=1',
           'teacher inference on 8 images 512×520 (one teacher)', max_repeats=3)
def _infer():
    from segkit.models.imunet import OneByOneUNet
    from segkit.pseudo.generations import predict_probs
    ims = [np.random.default_rng(i).random((1, 512, 520)).astype(np.float32) for i in range(8)]
    a, b = OneByOneUNet(1, 2, 0.5).eval(), OneByOneUNet(1, 2, 1.).eval()
    def extra():
        import time
        t0 = time.perf_counter(); predict_probs(a, ims); s = time.perf_counter() - t0
        return dict(images_per_s_alpha_0_5=round(len(ims) / s, 2))
    return (lambda: predict_probs(a, ims)), (lambda: predict_probs(b, ims)), extra

if __name__ == '__main__':
    import argparse
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('names', nargs='*'); p.add_argument('--repeats', type=int, default=5)
    p.add_argument('--out', default=str(Path(__file__).parent / 'results' / 'im'))
    a = p.parse_args()
    run_benchmarks(a.names or None, repeats=a.repeats, out=a.out)

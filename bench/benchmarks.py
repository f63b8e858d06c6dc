"""segkit's benchmarks: each returns (candidate, reference) callables doing the same work."""
import numpy as np
import torch
from harness import benchmark

@benchmark('batch_confusion', 'segkit batch_confusion (one bincount)', 'sklearn confusion_matrix per image',
           'confusion matrices of 16 label maps 256×256, 4 classes')
def _confusion():
    from sklearn.metrics import confusion_matrix
    from segkit.metrics.semantic import batch_confusion
    rng = np.random.default_rng(0)
    t = rng.integers(0, 4, (16, 256, 256)); p = np.where(rng.random(t.shape) < 0.8, t, rng.integers(0, 4, t.shape))
    return (lambda: batch_confusion(p, t, 4),
            lambda: np.stack([confusion_matrix(a.ravel(), b.ravel(), labels=range(4)) for a, b in zip(t, p)]))

@benchmark('image_labels', 'segkit image_labels (one bincount)', 'np.unique per image',
           'image-level class presence for 64 label maps 128×128, 8 classes')
def _image_labels():
    from segkit.core import image_labels
    m = np.random.default_rng(0).integers(0, 8, (64, 128, 128))
    def ref():
        out = np.zeros((len(m), 8), np.uint8)
        for i, x in enumerate(m): out[i, np.unique(x)] = 1
        return out
    return lambda: image_labels(m, 8), ref

@benchmark('predict_batched', 'predict_masks, batches of 8', 'predict_masks, one image at a time',
           'inference of a depth-3 U-Net (16 base maps) on 16 images 128×128')
def _predict():
    from segkit.models.unet import UNet
    from segkit.learner import predict_masks
    from segkit.core import default_device
    torch.manual_seed(0)
    model = UNet(1, 2, depth=3, base=16).to(default_device())
    ims = list(np.random.default_rng(0).random((16, 128, 128), dtype=np.float32))
    return lambda: predict_masks(model, ims, bs=8), lambda: predict_masks(model, ims, bs=1)

@benchmark('unet_train_step', 'thesis U-Net (max-unpool decoder)', 'classic U-Net (up-conv decoder)',
           'one Adam step, batch 8 of 1×128×128, depth 4, 32 base maps')
def _train_step():
    from segkit.models.unet import UNet
    from segkit.core import default_device
    dev = default_device()
    torch.manual_seed(0)
    x = torch.randn(8, 1, 128, 128, device=dev); y = (x[:, 0] > 0).long()
    def step_fn(m):
        opt = torch.optim.Adam(m.parameters(), 1e-3)
        def step():
            opt.zero_grad(); torch.nn.functional.cross_entropy(m(x), y).backward(); opt.step()
        return step
    return step_fn(UNet(1, 2, 4, 32).to(dev)), step_fn(UNet(1, 2, 4, 32, up='upconv').to(dev))

@benchmark('nuclei_loading', 'one batch of 16 random 256×256 crops from `nuclei` (cached)',
           'one training step of a depth-3 U-Net (16 base maps) on that batch',
           'is data loading the bottleneck? speed-up > 1: a batch loads faster than the model trains on it')
def _nuclei_loading():
    import time, tracemalloc
    from segkit.data.sources import get_source
    from segkit.data.block import seg_block_dls
    from segkit.models.unet import UNet
    from segkit.core import default_device
    ds = get_source('nuclei')
    tracemalloc.start()
    t0 = time.perf_counter()
    dls = seg_block_dls(ds, 'semantic', crop=256, bs=16, epoch_len=16 * 8, seed=0)
    n_first = sum(len(x) for x, y in dls.train)            # first epoch: decode + normalise + crop
    t_first = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]; tracemalloc.stop()
    it = {'dl': iter(dls.train)}
    def load():
        try: return next(it['dl'])
        except StopIteration: it['dl'] = iter(dls.train); return next(it['dl'])
    dev = default_device()
    model = UNet(1, 2, depth=3, base=16).to(dev)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    x, y = (torch.Tensor(t) for t in load())   # plain tensors: the step times the model, not fastai's type dispatch
    y = y.long()
    def step():
        opt.zero_grad(); torch.nn.functional.cross_entropy(model(x), y).backward(); opt.step()
    def extra():
        t = time.perf_counter(); n = 0
        for _ in range(3):
            for xb, _ in dls.train: n += len(xb)
        cached = n / (time.perf_counter() - t)
        return {'first_epoch_crops_per_s': round(n_first / t_first, 1), 'cached_crops_per_s': round(cached, 1),
                'target_cached_crops_per_s': 200, 'peak_python_memory_MB_first_epoch': round(peak / 2**20, 1),
                'source_cache_MB': round(ds.cached_mb, 1)}
    return load, step, extra

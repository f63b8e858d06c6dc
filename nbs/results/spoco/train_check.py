# Training-split check (4 train images, central 512² crops, scale 0.5) of clusterer settings on the committed p0.1/p1.0 nets; printed rows → train_check.csv. Run from the repo root: python nbs/results/spoco/train_check.py 4
import time, json, sys, numpy as np, pandas as pd, torch
from skimage.measure import label as cc_label
from skimage.transform import resize
from segkit.core import center_crop
from segkit.recipes.spoco import spoco_data, _rescale, fg_mask, SpocoCfg
from segkit.instances.spoco import predict_embeddings
from segkit.instances.embeddings import mws_labels, mean_shift_labels
from segkit.models.unet import UNet
from segkit.metrics.instance import instance_scores
torch.set_num_threads(1)
cfg = SpocoCfg(); data = spoco_data('nuclei')
ti, tl = data['train']; n = int(sys.argv[1]) if len(sys.argv) > 1 else 4
pick = list(range(0, len(ti), max(1, len(ti) // n)))[:n]
si = [center_crop(ti[i], 512) for i in pick]; sl = [center_crop(tl[i], 512) for i in pick]
xs, ls = _rescale(si, sl, 0.5)
med = float(np.median(np.concatenate([np.bincount(l.ravel())[1:][np.bincount(l.ravel())[1:] > 0] for l in _rescale(ti, tl, 0.5)[1]])))
up = lambda q, g: resize(q, g.shape, order=0, anti_aliasing=False, preserve_range=True).astype(np.int32)
rows = []
def score(net, key, preds):
    sc = pd.DataFrame([instance_scores(g, up(q, g)) for g, q in zip(sl, preds)])
    rows.append(dict(net=net, variant=key, sbd=sc.sbd.mean(), aji_plus=sc.aji_plus.mean(), n_pred=int(sum(q.max() for q in preds)), n_true=int(sum(len(np.unique(g)) - 1 for g in sl))))
    print(rows[-1], flush=True)
masks = [fg_mask(x) for x in xs]
score('-', 'otsu_cc', [cc_label(m) for m in masks])
for net in ['p0.1', 'p1.0']:
    m = UNet(1, 16, depth=3, base=16); m.load_state_dict(torch.load(f'nbs/results/spoco/{net}-seed0.pt', map_location='cpu')); m.eval()
    emb = predict_embeddings(m, np.stack(xs))
    for f in (0.1, 0.3, 0.5):
        ms = int(round(f * med))
        score(net, f'mws none min{f}', [mws_labels(e, min_size=ms) for e in emb])
        score(net, f'mws otsu min{f}', [mws_labels(e, mask=mk, min_size=ms) for e, mk in zip(emb, masks)])
    for dd in (1.0, 3.0):
        score(net, f'mws otsu dd{dd} min0.1', [mws_labels(e, delta_d=dd, mask=mk, min_size=int(round(0.1*med))) for e, mk in zip(emb, masks)])
    for bw in (0.5, 1.0):
        score(net, f'ms none bw{bw}', [mean_shift_labels(e, bw) for e in emb])
        score(net, f'ms otsu bw{bw}', [mean_shift_labels(e, bw, mask=mk) for e, mk in zip(emb, masks)])
pd.DataFrame(rows).to_csv('/tmp/train_check1.csv', index=False)

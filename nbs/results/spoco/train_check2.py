# Second training-split check (Eq. 3.10 δ_d × min_seg, mean-shift + connected pieces); reuses train_check.py's set-up; rows → train_check.csv.
import sys, numpy as np, pandas as pd, torch
from skimage.measure import label as cc_label
exec(open('nbs/results/spoco/train_check.py').read().split("masks = [fg_mask")[0])
def split(q, ms):
    c = cc_label(q, background=0, connectivity=1)
    c = np.where(np.bincount(c.ravel())[c] < ms, 0, c)
    return cc_label(c > 0, background=0) * 0 + np.unique(c, return_inverse=True)[1].reshape(c.shape)
masks = [fg_mask(x) for x in xs]
for net in ['p0.1', 'p1.0']:
    m = UNet(1, 16, depth=3, base=16); m.load_state_dict(torch.load(f'nbs/results/spoco/{net}-seed0.pt', map_location='cpu')); m.eval()
    emb = predict_embeddings(m, np.stack(xs))
    for dd in (2.0, 3.0, 4.0):
        for f in (0.1, 0.3):
            ms = int(round(f * med))
            for mk_name, mks in (('none', [None]*len(xs)), ('otsu', masks)):
                score(net, f'mws {mk_name} dd{dd} min{f}', [mws_labels(e, delta_d=dd, mask=mk, min_size=ms) for e, mk in zip(emb, mks)])
    for f in (0.1, 0.3):
        ms = int(round(f * med))
        for mk_name, mks in (('none', [None]*len(xs)), ('otsu', masks)):
            score(net, f'ms+cc {mk_name} bw0.5 min{f}', [split(mean_shift_labels(e, 0.5, mask=mk), ms) for e, mk in zip(emb, mks)])
pd.DataFrame(rows).to_csv('/tmp/train_check2.csv', index=False)

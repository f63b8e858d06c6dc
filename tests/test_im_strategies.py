"Issue 17, second part: the EvalNet strategies (evalnet, im++, aim++), the consistency-loss baseline cl, and predict_probs on predict_maps."
import numpy as np
import pytest
import torch
from segkit.pseudo.im import PSEUDO_STRATEGIES, hard
from segkit.models.imunet import OneByOneUNet
from segkit.pseudo.generations import (evalnet_strategy, im_pp_strategy, aim_pp_strategy, gt_im_pp_strategy, n_copies, predict_probs,
                                       evalnet_samples, train_evalnet, EvalNetEnsemble, GenConfig, base_models, run_generations)

def _probs(n_models=3, n_img=4, size=16, seed=0):
    rng = np.random.default_rng(seed)
    ims = [rng.random((1, size, size)).astype(np.float32) for _ in range(n_img)]
    return [[np.stack([1 - a, a]) for a in rng.random((n_img, size, size)).astype(np.float32)] for _ in range(n_models)], ims

def test_evalnet_pairs_are_the_best_scored_subset():
    probs, ims = _probs()
    table = np.array([[.2, .9, .3, .5], [.6, .1, .3, .8], [.4, .4, .2, .1]])
    calls = iter(table)
    pe = evalnet_strategy(probs, ims, scorer=lambda i, m: next(calls), tau=0.55)
    assert pe.idx.tolist() == [0, 1, 3] and pe.stats.model.tolist() == [1, 0, 0, 1]
    for j, i in enumerate(pe.idx): np.testing.assert_array_equal(pe.targets[j], hard(probs[table[:, i].argmax()][i], 'binary'))
    calls = iter(table)
    assert len(evalnet_strategy(probs, ims, scorer=lambda i, m: next(calls), tau=0.95)) == 0      # nothing passes a high τ

def test_im_pp_copies_follow_the_score():
    probs, ims = _probs(2)
    scores = lambda i, m: np.linspace(0.5, 1, len(m))
    pq = im_pp_strategy(probs, ims, scorer=scores, lo=0.6, hi=0.9)
    kept = pq.stats.kept.to_numpy(bool)
    assert pq.stats.copies[kept].tolist() == [n_copies(s, 0.6, 0.9) for s in np.linspace(0.5, 1, kept.sum())]
    assert len(pq) == pq.stats.copies.sum() and (pq.stats.copies[~kept] == 0).all()
    pa = aim_pp_strategy(probs, ims, scorer=lambda i, m: np.full(len(m), 0.95), lo=0.6, hi=0.9)
    assert len(pa) == 6 * kept.sum()
    # the oracle and IM++ share one path: a scorer returning the true IoU gives gt_im++'s pairs byte for byte
    gt = [hard(p, 'binary') for p in probs[1]]
    from segkit.pseudo.generations import image_scores, _onehot, encode_target
    true = lambda i, m: [float(image_scores(torch.from_numpy(_onehot(y, 'binary', 2))[None], torch.from_numpy(encode_target(gt[k], 'binary'))[None], 'binary', 2)[0])
                         for y, k in zip(m, im_pp_strategy.__globals__['make_im_pairs'](probs, ims).idx)]
    a = gt_im_pp_strategy(probs, ims, gt=gt, lo=0.6, hi=0.9, seed=3)
    b = im_pp_strategy(probs, ims, scorer=true, lo=0.6, hi=0.9, seed=3)
    assert [x.tobytes() for x in a.images] == [x.tobytes() for x in b.images]

@pytest.mark.parametrize('name', ['evalnet', 'im++', 'aim++'])
def test_evalnet_strategies_need_a_scorer(name):
    probs, ims = _probs(2)
    with pytest.raises(ValueError, match='`scorer`'): PSEUDO_STRATEGIES[name](probs, ims, tau=0.5)

def test_cl_meta_and_registry():
    m = PSEUDO_STRATEGIES.meta('cl')
    assert m['changes'] == 'loss' and m['kind'] == 'loss'
    for n in ('evalnet', 'im++', 'aim++', 'cl'): PSEUDO_STRATEGIES.check(n)

def test_predict_probs_equals_the_forward_loop():
    m = OneByOneUNet(1, 3, 0.5).eval()
    ims = [np.random.default_rng(i).random((1, 40 + 8 * (i % 2), 37)).astype(np.float32) for i in range(5)]
    for task in ('binary', 'multilabel'):
        got = predict_probs(m, ims, task, bs=2)
        for im, p in zip(ims, got):
            h, w = im.shape[-2:]
            x = torch.from_numpy(np.pad(im, ((0, 0), (0, -h % 16), (0, -w % 16)), mode='reflect'))[None]
            with torch.no_grad(): z = m(x)[..., :h, :w]
            ref = (z.sigmoid() if task == 'multilabel' else z.softmax(1))[0].numpy()
            np.testing.assert_allclose(p, ref, atol=1e-5)

@pytest.mark.parametrize('kw,match', [(dict(evalnet_keep=4, evalnets=3), '`evalnet_keep`'), (dict(evalnet_crop=96), '`evalnet_crop`'),
                                      (dict(cl_epochs=0), '`cl_epochs`'), (dict(cl_strength=7), '`cl_strength`')])
def test_genconfig_bad_evalnet_cl_options(kw, match):
    with pytest.raises(ValueError, match=match): GenConfig(**kw)

@pytest.mark.slow
def test_evalnet_ranks_a_good_mask_above_a_bad_one():
    from segkit.core import synth_blobs
    sb = synth_blobs(16, 64, seed=3)
    toy = lambda i, k: {'gt': (sb.masks[i] > 0).astype(np.int64), 'shift': np.roll((sb.masks[i] > 0).astype(np.int64), 6, 1),
                        'empty': np.zeros((64, 64), np.int64), 'inv': (sb.masks[i] == 0).astype(np.int64)}[k]
    kinds = ('gt', 'shift', 'empty', 'inv')
    items = lambda ii: [(sb.images[i][None], toy(i, k), toy(i, 'gt')) for i in ii for k in kinds]
    tr, va = evalnet_samples(items(range(12)), 'binary', 2, crop=64, per_item=1), evalnet_samples(items(range(12, 16)), 'binary', 2, crop=64, per_item=1)
    net, info = train_evalnet(tr, va, GenConfig(evalnet_epochs=12, bs=8, device='cpu', evalnet_crop=64), seed=0)
    s = EvalNetEnsemble([net], 'binary', 2, 64).score([sb.images[i][None] for i in range(12, 16) for k in kinds],
                                                      [toy(i, k) for i in range(12, 16) for k in kinds]).reshape(4, 4)
    assert (s[:, 0] > s[:, 3]).all(), s                 # held-out images: the true mask above the inverted one

@pytest.mark.slow
def test_evalnet_and_cl_end_to_end():
    from segkit.core import synth_blobs
    from segkit.data.nuclei_tasks import TaskData
    sb = synth_blobs(12, 64, seed=1)
    ims, ys = [x[None] for x in sb.images], [(m > 0).astype(np.int64) for m in sb.masks]
    td = TaskData('binary', 'synthetic', 2, (ims[:2], ys[:2]), (ims[2:6], ys[2:6]), (ims[6:8], ys[6:8]), (ims[8:], ys[8:]), ('b', 'o'))
    cfg = GenConfig(generations=1, students=1, k=1, n_base=2, epochs=1, epoch_len=8, crop=32, valid_crop=None, alpha_sched=None, device='cpu',
                    evalnets=1, evalnet_keep=1, evalnet_epochs=1, evalnet_crop=64, evalnet_per_item=1, evalnet_draws=1, cl_epochs=1)
    base = base_models(td, cfg, which=('ldt', 'aldt'), log=None)
    for s in ('evalnet', 'cl'):
        r = run_generations(s, td, cfg, base, log=None)
        assert len(r) == 1 and 0 <= r.val.iloc[0] <= 1
    assert r.best_phase.iloc[0] in ('start', 'supervised', 'consistency')

def test_ed_grid_rows_and_step_prefixes(monkeypatch):
    import pandas as pd
    import segkit.recipes.im as rim
    from segkit.experiments import cfg_from
    seen = []
    fake_base = lambda data, gc, rr, which, log: {**{b: [(None, dict(val=0.5))] for b in which}, **{f'{b}_test': 0.5 for b in which}}
    def fake_gen(s, data, g, base, rs, log):
        seen.append((s, g.e, g.d, rs.prefix)); return pd.DataFrame([dict(strategy=s, generation=1)])
    class _Run: path = '.'
    monkeypatch.setattr(rim, 'base_models', fake_base); monkeypatch.setattr(rim, 'run_generations', fake_gen)
    gens, _ = rim.run_im(_Run(), cfg_from(rim.IMCfg, overrides=dict(ed_grid='true', strategies=('me', 'im'), ks=(2,))), data=object(), log=None)
    im = [x for x in seen if x[0] == 'im']
    assert sorted((e, d) for _, e, d, _ in im) == sorted(rim.ED_GRID) and len(im) == 9
    assert ('im', 0, 0, 'r0-k2') in im and ('im', 3, 5, 'r0-k2-e3d5') in im           # the configured (e, d) keeps the plain step names
    assert [x for x in seen if x[0] == 'me'] == [('me', 0, 0, 'r0-k2')]
    assert set(gens.strategy) == {'me', 'im'} | {f'im e{e}d{d}' for e, d in rim.ED_GRID if (e, d) != (0, 0)}

def test_ks_beyond_students_or_base_models_is_an_error():
    "n = 3 teachers cannot come from 2 students or 2 baseline models: said before any training (it used to be capped silently)."
    import pytest
    import segkit.recipes.im as rim
    from segkit.experiments import cfg_from
    class _Run: path = '.'
    with pytest.raises(ValueError, match=r"`ks`: n = \[3\] teachers exceed min\(students=2, n_base=3\)"):
        rim.run_im(_Run(), cfg_from(rim.IMCfg, overrides=dict(ks=(2, 3), students=2)), data=object(), log=None)

def _multiclass_toy(n=16, size=64, seed=3):
    "Synthetic 3-class maps over `synth_blobs` images: background, class 1 = blobs at or above the median area, class 2 = smaller ones (seen in the image)."
    from segkit.core import synth_blobs
    sb = synth_blobs(n, size, seed=seed)
    area = np.concatenate([np.bincount(m.ravel())[1:] for m in sb.masks]); cut = np.median(area[area > 0])
    return sb, [np.where(m > 0, 1 + (np.bincount(m.ravel())[m] < cut), 0).astype(np.int64) for m in sb.masks]

def test_class_targets_mean_equals_the_students_score():
    from segkit.pseudo.generations import class_targets, image_scores, _onehot
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, (6, 32, 32)); y[0][y[0] == 2] = 0                     # image 0 lacks class 2
    pred = np.where(rng.random((6, 32, 32)) < .7, y, rng.integers(0, 4, (6, 32, 32)))   # 4 = C + 1 codes: the IM class 3 appears
    t = class_targets(pred, y, 3)
    assert t.shape == (6, 6) and set(np.unique(t[:, 3:])) <= {0., 1.} and t[0, 5] == 0 and t[0, 2] == 0
    ref = image_scores(torch.from_numpy(np.stack([_onehot(p, 'multiclass', 3) for p in pred])), torch.from_numpy(y), 'multiclass', 3)
    np.testing.assert_allclose((t[:, :3] * t[:, 3:]).sum(1) / t[:, 3:].sum(1), ref, rtol=1e-6)

@pytest.mark.slow
def test_two_head_multiclass_evalnet_trains_scores_and_reloads(tmp_path):
    from segkit.models.imunet import EvalNet
    from segkit.pseudo.generations import score_mae
    sb, g = _multiclass_toy()
    toy = lambda i, k: {'gt': g[i], 'swap': np.where(g[i] > 0, 3 - g[i], 0), 'empty': np.zeros_like(g[i]), 'im': np.where(g[i] > 0, 3, 0)}[k]
    kinds = ('gt', 'swap', 'empty', 'im')
    items = lambda ii: [(sb.images[i][None], toy(i, k), g[i]) for i in ii for k in kinds]
    tr, va = (evalnet_samples(items(ii), 'multiclass', 3, crop=64, per_item=1) for ii in (range(12), range(12, 16)))
    assert tr[1].shape[1] == 4 and tr[2].shape[1] == 6            # mask: C + 1 one-hot channels (IM included); targets: C IoUs + C presences
    np.testing.assert_allclose(tr[2][::4, :3][tr[2][::4, 3:] > 0], 1.)    # the truth has IoU 1 in every present class
    net, info = train_evalnet(tr, va, GenConfig(evalnet_epochs=24, bs=8, lr=3e-3, device='cpu', evalnet_crop=64), seed=0)
    assert info['n_classes'] == 3 and net.n_classes == 3
    out = net(torch.from_numpy(va[0][:4]), torch.from_numpy(va[1][:4]))
    assert set(out) == {'iou', 'detection'} and out['iou'].shape == (4, 3)
    assert 0 <= float(score_mae(out, torch.from_numpy(va[2][:4])).detach()) <= 1 and info['mae'] < 0.2   # validation MAE of the score (0.17 seen)
    ims, ms = [sb.images[i][None] for i in range(12, 16) for k in kinds], [toy(i, k) for i in range(12, 16) for k in kinds]
    s = EvalNetEnsemble([net], 'multiclass', 3, 64).score(ims, ms).reshape(4, 4)
    assert ((0 <= s) & (s <= 1)).all() and s[:, 0].mean() > s[:, 2].mean(), s   # held out: the truth above the empty mask on average
    torch.save(net.state_dict(), tmp_path / 'e.pt')                # the step's rebuild (`evalnet_scorer`) takes n_classes from the info
    net2 = EvalNet(info['n_img'], info['n_mask'], info['alpha'], n_classes=info.get('n_classes')); net2.load_state_dict(torch.load(tmp_path / 'e.pt'))
    np.testing.assert_allclose(EvalNetEnsemble([net2.eval()], 'multiclass', 3, 64).score(ims, ms).reshape(4, 4), s, rtol=1e-5)

def test_evalnet_heads_option():
    with pytest.raises(ValueError, match='`evalnet_heads`'): GenConfig(evalnet_heads=3)
    sb, g = _multiclass_toy(2)
    one = evalnet_samples([(sb.images[0][None], g[0], g[0])], 'multiclass', 3, crop=64, per_item=1, two_heads=False)
    assert one[2].shape == (1,) and one[2][0] == pytest.approx(1.)

def test_hard_multiclass_never_takes_the_im_channel():
    p = np.zeros((4, 2, 2), np.float32); p[3] = .9; p[1, 0, 0] = .05; p[2, 1, 1] = .05     # the IM channel (last) dominates everywhere
    h = hard(p, 'multiclass')
    assert h.max() < 3 and h[0, 0] == 1 and h[1, 1] == 2
    from segkit.pseudo.im import make_im_pairs
    make_im_pairs([[p], [p]], [np.zeros((1, 2, 2), np.float32)], 'multiclass', 3)         # teachers predicting IM: no error (was "class ids 0..3")

@pytest.mark.slow
def test_multiclass_generations_end_to_end():
    "Two generations of `im` and `evalnet` on a 3-class task: the second generation's teachers are students that output the IM class."
    from segkit.data.nuclei_tasks import TaskData
    sb, g = _multiclass_toy(12, 64, seed=1)
    ims = [x[None] for x in sb.images]
    td = TaskData('multiclass', 'synthetic', 3, (ims[:2], g[:2]), (ims[2:6], g[2:6]), (ims[6:8], g[6:8]), (ims[8:], g[8:]), ('b', 'n', 'm'))
    cfg = GenConfig(generations=2, students=2, k=2, n_base=2, epochs=1, epoch_len=8, crop=32, valid_crop=None, alpha_sched=None, device='cpu',
                    evalnets=1, evalnet_keep=1, evalnet_epochs=1, evalnet_crop=64, evalnet_per_item=1)
    base = base_models(td, cfg, which=('ldt', 'aldt'), log=None)
    for s in ('im', 'evalnet'):
        r = run_generations(s, td, cfg, base, log=None)
        assert len(r) == 2 and r.val.between(0, 1).all()

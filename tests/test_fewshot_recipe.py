"""The `fewshot-cells` recipe: presets, Table 4.2 layout, the claim lines, and a tiny end-to-end run on synthetic shapes."""
import numpy as np
import pandas as pd
import pytest
from segkit.experiments import cfg_from, run_recipe, RECIPES
from segkit.recipes.fewshot import FewShotCfg, table_4_2, claims, fewshot_data, _windows

def test_presets():
    q, f = cfg_from(FewShotCfg, 'quick'), cfg_from(FewShotCfg, 'full')
    assert f.depths == (25, 50, 100) and f.shots == (1, 5, 10) and f.supports * f.seeds == 50
    assert q.shots == (1, 5, 10) and q.sources == ('hgsc_nuclei', 'nuclei') and len(q.depths) == 2   # two depths: Fig. 4.3's feature-count axis
    assert q.epochs > 3 * q.patience                      # a cap early stopping can hit first (the upper bound is trained, not truncated)
    with pytest.raises(ValueError, match='lizard'): cfg_from(FewShotCfg, overrides=dict(sources=('lizard',)))
    RECIPES.check('fewshot-cells')

def summ(bfgs5, lr5, iqr1, iqr5):
    rows = []
    for t, b5, l5, i1, i5 in zip('abc', bfgs5, lr5, iqr1, iqr5):
        rows += [dict(target=t, k=5, optimizer='bfgs', depth=25, median=b5, iqr=i5), dict(target=t, k=5, optimizer='logreg', depth=25, median=l5, iqr=i5),
                 dict(target=t, k=1, optimizer='bfgs', depth=25, median=b5 / 2, iqr=i1), dict(target=t, k=1, optimizer='logreg', depth=25, median=l5 / 2, iqr=i1)]
    return pd.DataFrame(rows)

def test_claims_can_fail():
    up = pd.DataFrame(dict(target=list('abc'), depth=25, upper_dice=[.8, .8, .8]))
    good = claims(summ([.7, .7, .7], [.6, .6, .8], [.3, .3, .3], [.1, .1, .1]), up, (25,))
    bad = claims(summ([.5, .5, .7], [.6, .6, .6], [.1, .1, .1], [.3, .3, .3]), up, (25,))
    assert good[0].endswith('— reproduced') and '2/3' in good[0]
    assert bad[0].endswith('not reproduced') and bad[1].endswith('not reproduced') and good[1].endswith('— reproduced')
    assert good[3].endswith('— reproduced') and bad[3].endswith('reproduced for c')
    assert 'not assessed' in good[2]
    t = table_4_2(summ([.7, .7, .7], [.6, .6, .8], [.3] * 3, [.1] * 3), 5, 25)
    assert list(t.index) == ['BFGS', 'Logistic'] and t.loc['Logistic', 'c'] == 80.0

def test_data_layout():
    d = fewshot_data('hgsc_nuclei')
    assert len(d['pool'][0]) == 252 and d['test'][0][0].shape == (3, 300, 1500) and 'model-made' in d['provenance']
    ims, labs = _windows([np.zeros((1, 600, 520))], [np.zeros((600, 520), int)], 256)
    assert len(ims) == 9 and all(l.shape == (256, 256) for l in labs)

@pytest.mark.slow
def test_tiny_run(tmp_path):
    run = run_recipe('fewshot-cells', out=tmp_path, verbose=False, sources=('synthetic_shapes',), depths=(3,), shots=(1, 5), supports=2,
                     seeds=1, epochs=1, crop=48, epoch_len=8, lams=(0.0, 1e-2), max_pixels=5000, device='cpu')
    res = pd.read_csv(run.path / 'results.csv')
    assert len(res) == 3 * 2 * 2 * 2
    b = res[res.optimizer == 'bfgs'].reset_index(drop=True); l = res[res.optimizer == 'logreg'].reset_index(drop=True)
    assert (b.objective <= b.objective_start + 1e-12).all() and (b.supports == l.supports).all()   # paired supports
    rep = (run.path / 'report.md').read_text()
    assert 'F1 BFGS' in rep and 'Table 4.2' in rep and (run.path / 'figures' / 'curves.png').exists()

def test_upper_bound_at_the_epoch_cap_is_no_bound():
    s = summ([.7, .7, .7], [.6, .6, .8], [.3, .3, .3], [.1, .1, .1])
    up = pd.DataFrame(dict(target=list('abc'), depth=25, upper_dice=[.8, .8, .8], early_stopped=[True, True, False]))
    f4 = claims(s, up, (25,))[3]
    assert '2/2 assessed' in f4 and 'c – (upper bound 0.80 hit the epoch cap' in f4
    f4_none = claims(s, up.assign(early_stopped=False), (25,))[3]
    assert f4_none.endswith('not assessed')

def test_lambda_episodes_with_one_known_class():
    "nuclei has one known class per target: the episode uses that class's own extractor, and says so."
    import torch
    from segkit.core import synth_shapes
    from segkit.models.msd import MSD
    from segkit.recipes.fewshot import lambda_episodes
    sh = synth_shapes(24, 32, seed=0)
    data = dict(pool=(list(sh.images), list(sh.masks)), codes=sh.codes)
    torch.manual_seed(0)
    exts = {c: MSD(1, 2, depth=2, dilations=(1, 2)).eval() for c in (1, 2)}
    for c, e in exts.items(): e.fewshot_class = sh.codes[c]
    eps_ = lambda_episodes(data, exts, 2, 0, k=3, n_query=2)
    assert [(e['pseudo_target'], e['own_extractor']) for e in eps_] == [(sh.codes[1], True)]
    assert eps_[0]['X'].shape[1] == 2 and eps_[0]['y'].any()
    three = {**exts, 3: MSD(1, 2, depth=2, dilations=(1, 2)).eval()}; three[3].fewshot_class = sh.codes[3]
    assert all(not e['own_extractor'] for e in lambda_episodes(data, three, 3, 0, k=3, n_query=2))   # leave-one-out when possible

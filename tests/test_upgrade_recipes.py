"""segkit.recipes.noise, the chapter-3 experiments beyond Table 3.1: `upgrade-mismatch`, `upgrade-cost`, `upgrade-predictions` (issue 18):
they register, refuse bad options, and their claims follow the numbers."""
import numpy as np
import pandas as pd
import pytest
from segkit.experiments import cfg_from, RECIPES
from segkit.recipes.noise import (MismatchCfg, CostCfg, PredictionsCfg, mismatch_claims, cost_claims, predictions_claims, hq_lq_split)
from segkit.pseudo.upgrade import hq_split, annotation_cost

def test_recipes_register_and_pass_the_registry_smoke():
    for n in ('upgrade-mismatch', 'upgrade-cost', 'upgrade-predictions'): assert RECIPES.check(n)

@pytest.mark.parametrize('cls,opts,msg', [
    (MismatchCfg, dict(train_levels=('om99',)), 'om70'),
    (MismatchCfg, dict(n_hq=0), 'n_hq'),
    (CostCfg, dict(k=0), 'k'),
    (CostCfg, dict(perturbation='nope'), 'om70'),
    (PredictionsCfg, dict(seg_epochs=0), 'seg_epochs'),
])
def test_bad_options(cls, opts, msg):
    with pytest.raises(ValueError) as e: cfg_from(cls, overrides=opts)
    assert msg in str(e.value)

def test_mismatch_claims_follow_the_numbers():
    t = pd.DataFrame({'om30': [.6, .90, .92], 'om70': [.4, .70, .90], 'bias6': [.8, .79, .60]}, index=['lq', 'om30', 'om70'])
    c = mismatch_claims(t)
    assert c[0].startswith('U4 om') and ': reproduced' in c[0]
    assert '2 of 2 cross-type pairs' in c[1]                      # both u_θ make bias6 labels worse than raw
    t.loc['om70', 'om30'] = .80                                   # the highest-level u_θ now loses 10 points on om30
    assert 'not reproduced' in mismatch_claims(t)[0]
    assert 'not assessed' in mismatch_claims(t[['bias6']])[0]

def _cost(fw_dice, hq_dices=(.6, .8, .9), up=(.9,)):
    rows = [dict(regime='hq', n_hq=n, n_lq=0, cost=annotation_cost(n, 0), test_dice=d) for n, d in zip((2, 4, 8), hq_dices)]
    rows.append(dict(regime='lq', n_hq=0, n_lq=8, cost=8., test_dice=.5))
    rows += [dict(regime='hq+up', n_hq=n, n_lq=8 - n, cost=annotation_cost(n, 8 - n), test_dice=fw_dice, label_dice_up=u) for n, u in zip((2, 3), up)]
    return pd.DataFrame(rows)

def test_cost_claims_follow_the_numbers():
    c = cost_claims(_cost(.85), 'om70')                           # framework cost 16, Dice .85; HQ-only needs 8 images (cost 40)
    assert c[0].startswith('U7 om70') and ': reproduced' in c[0] and 'costs 40' in c[0]
    assert 'not reproduced' in cost_claims(_cost(.6), 'om70')[0]  # 2 HQ images alone (cost 10) already reach it
    assert 'not assessed' in c[1]                                 # U5 needs two mix points
    c = cost_claims(_cost(.85, up=(.8, .9)), 'om70')
    assert any(l.startswith('U5') and ': reproduced' in l for l in c)
    assert 'not assessed' in cost_claims(_cost(.85)[lambda d: d.regime != 'hq'], 'om70')[0]

def test_predictions_claims():
    assert ': reproduced' in predictions_claims(dict(pred_dice=.5, upgraded_dice=.6))[0]
    assert 'not reproduced' in predictions_claims(dict(pred_dice=.5, upgraded_dice=.4))[0]

def test_splits():
    d = dict(train=([np.zeros((4, 4))] * 6, [np.zeros((4, 4), np.int32)] * 6, [None] * 6))
    hq, lq = hq_lq_split(d, 2, 3)
    assert (len(hq[0]), len(lq[0])) == (2, 3)
    assert hq_split(5) == ([1, 2, 3, 4], [0])
    with pytest.raises(ValueError, match='valid_frac'): hq_split(5, 1.0)

def test_claims_refuse_to_judge_networks_that_did_not_learn():
    t = pd.DataFrame({'om30': [.8, .5, .52], 'om70': [.46, .45, .44]}, index=['lq', 'om30', 'om70'])
    c = mismatch_claims(t)
    assert 'did not learn' in c[0] and 'not assessed' in c[1]
    d = _cost(.3, hq_dices=(.2, .3, .4)); d.loc[d.regime == 'lq', 'test_dice'] = .1
    assert 'not assessed (the HQ-only segmenters did not learn' in cost_claims(d, 'om70')[0]
    assert 'nearly empty' in predictions_claims(dict(pred_dice=.05, upgraded_dice=.3))[0]

"""segkit.recipes.noise: configs validate, bad options are refused with the valid ones listed, claims follow the numbers (issue 18)."""
import numpy as np
import pandas as pd
import pytest
from segkit.experiments import cfg_from, RECIPES, DEMO_STEPS
from segkit.recipes.noise import RobustnessCfg, UpgradeCfg, robustness_claims, upgrade_claims, wilcoxon_table

def test_both_recipes_register_and_pass_the_registry_smoke():
    for n in ('noise-robustness', 'upgrade'): assert RECIPES.check(n)
    assert DEMO_STEPS.check('noise')

@pytest.mark.parametrize('cls,opts,msg', [
    (RobustnessCfg, dict(nets=('unet', 'vgg')), 'vgg'),
    (RobustnessCfg, dict(settings=('om99',)), 'om99'),
    (UpgradeCfg, dict(perturbations=('om99',)), 'om70'),
    (UpgradeCfg, dict(regimes=('hq', 'oracle')), 'hq+up'),
    (UpgradeCfg, dict(n_hq=0), 'n_hq'),
])
def test_bad_options(cls, opts, msg):
    with pytest.raises(ValueError) as e: cfg_from(cls, overrides=opts)
    assert msg in str(e.value)

def _rob(drops):
    rows = []
    for net, d in drops.items():
        for s, v in d.items():
            for seed in range(6): rows.append(dict(net=net, setting=s, seed=seed, test_dice=v + 0.001 * seed, retries=0))
    return pd.DataFrame(rows)

def test_robustness_claims_follow_the_numbers():
    good = _rob({'unet': dict(clean=.9, om30=.88, om70=.8, inc70=.895, **{'inc70-large': .7}, bias2=.85, bias6=.7),
                 'segnet_like': dict(clean=.9, om30=.85, om70=.6, inc70=.89, **{'inc70-large': .7}, bias2=.84, bias6=.6),
                 'msd': dict(clean=.85, om30=.84, om70=.8, inc70=.85, **{'inc70-large': .7}, bias2=.8, bias6=.7)})
    c = robustness_claims(good)
    assert all(': reproduced' in l for l in c if l.startswith(('R1', 'R2', 'R3', 'R4', 'R5'))), c
    bad = _rob({'unet': dict(clean=.9, om30=.7, om70=.85, bias2=.7, bias6=.9), 'segnet_like': dict(clean=.9, om70=.89)})
    c = robustness_claims(bad)
    assert 'R1' in c[0] and 'not reproduced' in c[0] and 'not reproduced' in c[1] and 'not assessed' in c[2] and 'not reproduced' in c[3]
    assert 'did not learn' in robustness_claims(_rob({'unet': dict(clean=.2, om30=.2)}))[0]
    c = robustness_claims(_rob({'unet': dict(clean=.9, om70=.2), 'segnet_like': dict(clean=.3, om70=.5), 'msd': dict(clean=.2, om70=.5)}))
    assert [l for l in c if l.startswith(('R2', 'R5'))] and all('not assessed (a network did not learn)' in l for l in c if l.startswith(('R2', 'R5')))
    w = wilcoxon_table(good)
    assert (w.n_pairs == 6).all() and w.p_value.notna().all()

def test_upgrade_claims_follow_the_numbers():
    t = pd.DataFrame([dict(perturbation='om70', lq_label_dice=.46, upgraded_label_dice=.9, hq=.8, **{'hq+lq': .5, 'lq': .4, 'hq+up': .85, 'thrs': .7}),
                      dict(perturbation='bias6', lq_label_dice=.7, upgraded_label_dice=.8, hq=.8, **{'hq+lq': .82, 'lq': .86, 'hq+up': .84, 'thrs': .7})]).set_index('perturbation')
    c = upgrade_claims(t)
    assert c[0].startswith('U1') and c[0].endswith(': reproduced') and c[1].startswith('U2') and ': reproduced' in c[1]
    assert 'matches or beats' in c[2]
    t.loc['om70', 'upgraded_label_dice'] = .6; t.loc['om70', 'hq+up'] = .45
    c = upgrade_claims(t)
    assert c[0].endswith('not reproduced') and 'not reproduced' in c[1]

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
    good = _rob({'unet': dict(clean=.9, om30=.88, om70=.8, inc70=.895, **{'inc0-large': .9, 'inc70-large': .7}, bias2=.85, bias6=.7),
                 'segnet_like': dict(clean=.9, om30=.85, om70=.6, inc70=.89, **{'inc0-large': .89, 'inc70-large': .7}, bias2=.84, bias6=.6),
                 'msd': dict(clean=.85, om30=.84, om70=.8, inc70=.85, **{'inc0-large': .85, 'inc70-large': .7}, bias2=.8, bias6=.7)})
    c = robustness_claims(good)
    assert all(': reproduced' in l for l in c if l.startswith(('R1', 'R2', 'R3', 'R4', 'R5'))), c
    bad = _rob({'unet': dict(clean=.9, om30=.7, om70=.85, bias2=.7, bias6=.9), 'segnet_like': dict(clean=.9, om70=.89)})
    c = robustness_claims(bad)
    assert 'R1' in c[0] and 'not reproduced' in c[0] and 'not reproduced' in c[1] and 'not assessed' in c[2] and 'not reproduced' in c[3]
    assert 'did not learn' in robustness_claims(_rob({'unet': dict(clean=.2, om30=.2)}))[0]
    c = robustness_claims(_rob({'unet': dict(clean=.9, om70=.2), 'segnet_like': dict(clean=.3, om70=.5), 'msd': dict(clean=.2, om70=.5)}))
    assert [l for l in c if l.startswith(('R2', 'R5'))] and all('not assessed (a network did not learn)' in l for l in c if l.startswith(('R2', 'R5')))
    # R3's large drop is measured against the merged images with none included, not against `clean`
    lg = _rob({'unet': dict(clean=.9, inc70=.895, **{'inc0-large': .72, 'inc70-large': .7})})
    assert 'R3' in (r3 := next(l for l in robustness_claims(lg) if l.startswith('R3'))) and 'not reproduced' in r3 and 'large 2.0 points' in r3
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


def test_large_object_data_pastes_larger_unlabelled_objects_in_every_split():
    from segkit.core import synth_blobs
    from segkit.recipes.noise import large_object_data, noisy_train_set
    def split(seed):
        b = synth_blobs(3, 48, seed=seed)
        return ([np.asarray(a, np.float32) for a in b.images], [np.asarray(m, np.int32) for m in b.masks], [None] * 3)
    data = dict(name='toy', train=split(0), valid=split(1), test=split(2))
    L = large_object_data(data, zoom=3.)
    for sp in ('train', 'valid', 'test'):
        ims, inst, oth = L[sp]
        assert all((i == j).all() for i, j in zip(inst, data[sp][1]))                     # the target labels are unchanged
        assert any((o > 0).any() for o in oth) and all(((o > 0) & (l > 0)).sum() == 0 for o, l in zip(oth, inst))
        assert all(a.shape == b.shape for a, b in zip(ims, data[sp][0]))
    from segkit.recipes.noise import _enlarged
    inst = np.zeros((48, 48), np.int32); inst[22:26, 22:26] = 7                              # a 4×4 object in the centre ...
    img, lab = _enlarged(inst.astype(np.float32), inst, (48, 48), 3.)
    assert lab.shape == img.shape == (48, 48) and set(np.unique(lab)) == {0, 7} and (lab == 7).sum() == 144   # ... becomes 12×12
    _, l0 = noisy_train_set(L, 'inc0-large', 0); _, l7 = noisy_train_set(L, 'inc70-large', 0)
    assert all(((a > 0) == (m > 0)).all() for a, m in zip(l0, L['train'][1]))               # 0 %: the targets only
    assert sum(int(a.sum()) for a in l7) > sum(int(a.sum()) for a in l0)                    # 70 %: pasted objects labelled too

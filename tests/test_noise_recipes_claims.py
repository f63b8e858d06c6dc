"""segkit.recipes.noise (issue 18): the robustness run's cell plan, and the chapter-3 claim table that gathers U1–U7 from result files
and flips with their numbers."""
import json
import pandas as pd
from segkit.experiments import cfg_from
from segkit.recipes.noise import RobustnessCfg, robustness_cells, chapter3_claims, claim_verdict, CLAIM_IDS, cost_claims
from segkit.pseudo.upgrade import annotation_cost

def test_quick_robustness_plan_trains_all_three_networks_on_the_omission_settings():
    cells = robustness_cells(RobustnessCfg())
    assert {(n, s) for n in ('unet', 'segnet_like', 'msd') for s in ('clean', 'om30', 'om70')} <= set(cells)
    assert [c for c in cells if c[1] in ('inc70', 'inc0-large', 'inc70-large', 'bias2', 'bias6')] == [('unet', s) for s in ('inc70', 'inc0-large', 'inc70-large', 'bias2', 'bias6')]
    assert cells[:3] == [('unet', 'clean'), ('segnet_like', 'clean'), ('msd', 'clean')]   # every network's clean cell first
    assert len(cells) == len(set(cells)) == 14
    full = robustness_cells(cfg_from(RobustnessCfg, preset='full'))
    assert len(full) == 24                                        # the full grid: 3 networks × 8 settings
    assert robustness_cells(RobustnessCfg(nets=('msd',))) == [('msd', s) for s in ('clean', 'om30', 'om70')]   # U-Net-only settings need the U-Net

def test_claim_verdict_reads_the_first_verdict():
    assert claim_verdict("U4 om: … at least as good: not reproduced — LQ om30 0.7") == 'not reproduced'
    assert claim_verdict("U3 bias6: … which is expected: reproduced") == 'reproduced'
    assert claim_verdict("U7 om70: not assessed (… reproduced elsewhere)") == 'not assessed'
    assert claim_verdict("LQ labels alone: Dice 0.5") == 'stated'

def _write(d, up=.9, up_hq=(.6, .8, .9), fw=.85, mix_up=(.7, .8), pred=(.5, .6)):
    pd.DataFrame([dict(perturbation='om70', lq_label_dice=.46, upgraded_label_dice=up, hq=.8, **{'hq+lq': .5, 'lq': .4, 'hq+up': .85, 'thrs': .7})]
                 ).set_index('perturbation').to_csv(d / 'upgrade_quick.csv')
    pd.DataFrame({'om30': [.6, .90, .92], 'om70': [.4, .70, .90]}, index=pd.Index(['lq', 'om30', 'om70'], name='trained_on')).to_csv(d / 'upgrade_mismatch_quick.csv')
    rows = [dict(regime='hq', n_hq=n, n_lq=0, cost=annotation_cost(n, 0), test_dice=v) for n, v in zip((2, 4, 8), up_hq)]
    rows.append(dict(regime='lq', n_hq=0, n_lq=8, cost=8., test_dice=.5))
    rows += [dict(regime='hq+up', n_hq=n, n_lq=8 - n, cost=annotation_cost(n, 8 - n), test_dice=fw, label_dice_up=u) for n, u in zip((1, 2), mix_up)]
    pd.DataFrame(rows).to_csv(d / 'upgrade_cost_quick.csv', index=False)
    (d / 'upgrade_cost_quick_config.json').write_text(json.dumps(dict(perturbation='om70')))
    pd.DataFrame([dict(pred_dice=pred[0], upgraded_dice=pred[1])]).to_csv(d / 'upgrade_predictions_quick.csv', index=False)

def _verdicts(d): return chapter3_claims(d).groupby('claim')['verdict'].first().to_dict()

def test_chapter3_claims_follow_the_files(tmp_path):
    _write(tmp_path)
    v = _verdicts(tmp_path)
    assert set(v) == set(CLAIM_IDS)
    assert v == dict(U1='reproduced', U2='reproduced', U3='not assessed', U4='reproduced', U5='reproduced', U6='reproduced', U7='reproduced')
    _write(tmp_path, up=.6, up_hq=(.9, .9, .9), mix_up=(.8, .7), pred=(.5, .4))   # the same files with the numbers turned against each claim
    v = _verdicts(tmp_path)
    assert (v['U1'], v['U5'], v['U6'], v['U7']) == ('not reproduced',) * 4
    _write(tmp_path, up_hq=(.2, .3, .4), pred=(.05, .3))                            # HQ-only curve and weak segmenter did not learn
    v = _verdicts(tmp_path)
    assert (v['U5'], v['U6'], v['U7']) == ('reproduced', 'not assessed', 'not assessed')   # U5 does not need the HQ-only curve

def test_missing_runs_are_named(tmp_path):
    c = chapter3_claims(tmp_path).set_index('claim')
    assert (c.verdict == 'not assessed').all() and list(c.index) == list(CLAIM_IDS)
    assert 'no `upgrade-cost` run' in c.loc['U7', 'text']

def test_u5_is_stated_even_when_the_hq_curve_did_not_learn():
    t = pd.DataFrame([dict(regime='hq', n_hq=2, n_lq=0, cost=10., test_dice=.2), dict(regime='hq+up', n_hq=2, n_lq=6, cost=16., test_dice=.9, label_dice_up=.5)])
    c = cost_claims(t, 'om70')
    assert c[0].startswith('U7') and 'not assessed' in c[0] and c[1].startswith('U5') and 'not assessed (1 `mix_hq` point' in c[1]

def test_u5_compares_the_images_every_point_upgrades():
    "Each point's own LQ set shrinks as HQ grows; where the common-subset Dice is recorded, U5 reads it (and says so)."
    rows = [dict(regime='hq', n_hq=2, n_lq=0, cost=10., test_dice=.8)]
    rows += [dict(regime='hq+up', n_hq=n, n_lq=8 - n, cost=annotation_cost(n, 8 - n), test_dice=.85, label_dice_up=u, label_dice_up_common=c)
             for n, u, c in ((2, .70, .90), (4, .80, .85))]   # own-set Dice grows, the common-subset Dice falls
    u5 = [s for s in cost_claims(pd.DataFrame(rows), 'om70') if s.startswith('U5')][0]
    assert 'not reproduced' in u5 and 'on the 4 images every point upgrades' in u5 and '2 HQ: 0.900' in u5
    u5_old = [s for s in cost_claims(pd.DataFrame(rows).drop(columns='label_dice_up_common'), 'om70') if s.startswith('U5')][0]
    assert ': reproduced' in u5_old and 'own LQ images' in u5_old

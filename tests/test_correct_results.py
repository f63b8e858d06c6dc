"Issue 14: result tables that never hide an undefined score, use the realised ρ, and report non-converged pretext runs."
import numpy as np
import pandas as pd
import pytest
from segkit.recipes.coheg import results_table, pfr_optimum_finding, realised_rho
from segkit.recipes.selfsl import representation_frame, table_6_1, rqc_frame
from segkit.metrics.efficiency import psi_pfr

def rows(rate, dice_b, dropped):
    return pd.DataFrame(dict(rate=rate, seed=[0, 1], dice_a=[.8, .8], dice_b=dice_b, dropped_a=dropped, dropped_b=dropped))

def test_psi_pfr_undefined_score_is_a_dash_not_zero():
    df = pd.concat([rows(0., [.6, .6], [0., 0.]), rows(.5, [np.nan, np.nan], [.5, .5])])
    t = results_table(df, 'rate', ['a', 'b'], pfr_on='b')
    assert t.loc[0.5, 'ψ_PFR (b)'] == '–' and t.loc[0.5, 'b'] == '–'           # before: NaN → 0 → ψ_PFR 0.00
    assert t.loc[0.5, 'mean'] == '–' and results_table(df, 'rate', ['a', 'b']).loc[0.5, 'ψ_PFR (mean)'] == '–'   # and not a's Dice as the mean
    assert '(1 rate(s) without a score)' in pfr_optimum_finding(pd.DataFrame({'l': [.6, np.nan]}, index=[0., .5]))

def test_psi_pfr_uses_the_realised_rate():
    # 5 images, nominal ρ = 0.1: round(0.5) = 0 labels dropped (round-half-even) — the realised ρ is 0, not 0.1
    df = rows(.1, [.7, .7], [0., 0.])
    t = results_table(df, 'rate', ['a', 'b'], pfr_on='b')
    assert t.loc[0.1, 'ρ realised'] == 0.0
    assert t.loc[0.1, 'ψ_PFR (b)'] == f"{psi_pfr(.7, 0.):.2f}" != f"{psi_pfr(.7, .1):.2f}"
    assert realised_rho(df.drop(columns=['dropped_a', 'dropped_b']), 'rate', ['a', 'b']) is None
    assert list(results_table(df.drop(columns=['dropped_a', 'dropped_b']), 'rate', ['a', 'b']).columns) == ['a', 'b', 'mean', 'ψ_PFR (mean)']

def hist(losses, dt=1.):
    return dict(batch_losses=list(losses), batch_times=list(dt * np.arange(1, len(losses) + 1)), seconds=dt * len(losses), added_params=1, min_bs=1, best_epoch=0)

def test_rqc_table_reports_non_converged_runs_instead_of_runtime():
    rng = np.random.default_rng(0)
    noisy_fall = np.linspace(6, 3, 80) * (1 + 0.03 * rng.standard_normal(80))        # still falling: no plateau
    plateau = np.r_[np.linspace(6, 3, 30), np.full(50, 3.)] * (1 + 0.03 * rng.standard_normal(80))
    h = dict(a=hist(noisy_fall), b=hist(plateau, dt=2.), c=hist(plateau, dt=1.))
    rq = rqc_frame(h)
    assert np.isnan(rq.loc['a', 'psi_rqc']) and np.isnan(rq.loc['a', 'converge_s'])   # before: its last step, ψ_RQC = runtime ratio
    assert rq.loc['c', 'converge_s'] < 45 and rq.loc['c', 'psi_rqc'] == 1.0             # plateau from batch 30 found within a few epochs
    assert rq.loc['b', 'psi_rqc'] == pytest.approx(2.0)
    t = table_6_1(representation_frame({m: dict(psi_nqc=.5, nqc_random=.3, knn=.4) for m in ('random', 'a', 'b', 'c')}, dict(random=None, **h)))
    assert t['ψ_RQC'].tolist() == ['–', 'not converged', '2.00', '1.00']

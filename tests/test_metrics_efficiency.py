"""ψ_PFR reproduces the thesis tables; ψ_IQC is an exact integral; representation metrics have their defining properties."""
import numpy as np
import pytest
from sklearn.neighbors import KNeighborsClassifier
from segkit.metrics.efficiency import psi_pfr, optimal_rate, psi_iqc, err
from segkit.metrics.representation import psi_nqc, nqc_random_baseline, knn_accuracy, linear_cka, convergence_step, psi_rqc

DROP = np.arange(10) / 10
# Rettenberger, Tables A.3 (ablation, mean over classes) and A.4 (transfer, atrium): scores (%) and printed ψ_PFR
TABLES = {
    'A.3 DSC': ([84, 83, 83, 82, 82, 81, 78, 41, 26, 8], [0.71, 0.77, 0.86, 0.96, 1.12, 1.31, 1.52, 0.56, 0.34, 0.06], DROP),
    'A.3 IoU': ([71, 72, 71, 69, 71, 70, 66, 32, 20, 5], [0.50, 0.58, 0.63, 0.68, 0.84, 0.98, 1.09, 0.34, 0.20, 0.03], DROP),
    'A.4 DSC': ([87, 85, 85, 85, 82, 85, 81, 43, 41], [0.84, 0.90, 1.03, 1.20, 1.34, 1.81, 2.19, 0.92, 1.68], DROP[1:]),
    'A.4 IoU': ([77, 73, 74, 74, 69, 74, 68, 37, 33], [0.66, 0.67, 0.78, 0.91, 0.95, 1.37, 1.54, 0.68, 1.09], DROP[1:]),
}

@pytest.mark.parametrize('name', TABLES)
def test_psi_pfr_reproduces_thesis_tables(name):
    scores, printed, drop = TABLES[name]
    ours = psi_pfr(np.array(scores) / 100, drop)
    assert np.all(np.abs(ours - np.array(printed)) <= 0.005 + 1e-9), (name, np.round(ours, 3))

def test_psi_pfr_optimum_and_errors():
    assert optimal_rate(np.array(TABLES['A.3 DSC'][0]) / 100, DROP) == pytest.approx(0.6)
    assert optimal_rate(np.array(TABLES['A.4 DSC'][0]) / 100, DROP[1:]) == pytest.approx(0.7)
    with pytest.raises(ValueError, match='n > 1'): psi_pfr(0.5, 0.1, n=1)
    with pytest.raises(ValueError, match='fractions'): psi_pfr(84, 0.1)
    with pytest.raises(ValueError, match='dropped'): psi_pfr(0.5, 1.0)
    with pytest.raises(ValueError, match='NaN'): psi_pfr(np.nan, 0.1)
    assert psi_pfr(0.5, 30, total=100) == pytest.approx(0.25 / 70)

@pytest.mark.parametrize('seed', range(5))
def test_psi_iqc_is_the_exact_integral(seed):
    rng = np.random.default_rng(seed)
    r = np.sort(np.concatenate([[0.01, 1.0], rng.uniform(0.01, 1, 5)])); s = rng.uniform(0.2, 0.9, len(r))
    a, b = 0.01 + rng.uniform(0, 0.3), 1 - rng.uniform(0, 0.3)
    grid = np.linspace(a, b, 400_001); f = np.interp(grid, r, s)
    numeric = np.trapezoid(f, grid) / (s[-1] * (b - a))
    assert psi_iqc(r, s, a=a, b=b) == pytest.approx(numeric, abs=1e-9)
    with pytest.raises(ValueError, match='no score at rate 1'): psi_iqc(r[:-1], s[:-1])

def test_err():
    assert err(0.8, 0.9) == pytest.approx(50) and err(0.5, 0.5) == 0
    with pytest.raises(ValueError, match='undefined'): err(1.0, 0.5)

def test_nqc_matches_leave_one_out_1nn():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 6)) + np.repeat(np.eye(6)[:3] * 2, 40, 0); y = np.repeat([0, 1, 2], 40)
    loo = []
    for i in range(len(x)):
        m = np.arange(len(x)) != i
        loo.append(KNeighborsClassifier(1).fit(x[m], y[m]).predict(x[i:i + 1])[0] == y[i])
    assert psi_nqc(x, y) == pytest.approx(np.mean(loo))
    assert nqc_random_baseline(y) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match='labels for'): psi_nqc(x, y[:-1])

def test_knn_and_cka_properties():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 10)); y = (x[:, 0] > 0).astype(int)
    assert knn_accuracy(x[:150], y[:150], x[150:], y[150:], k=5) > 0.7
    q, _ = np.linalg.qr(rng.normal(size=(10, 10)))
    assert linear_cka(x, x) == pytest.approx(1) and linear_cka(x, 0.5 * x @ q) == pytest.approx(1)
    assert linear_cka(x, rng.normal(size=(200, 10))) < 0.2
    assert linear_cka(x, x, estimator='biased') == pytest.approx(1) and linear_cka(x, 0.5 * x @ q, estimator='biased') == pytest.approx(1)
    with pytest.raises(ValueError, match='NaN'): linear_cka(np.full((3, 2), np.nan), x[:3])

def test_convergence_rule():
    t = np.arange(500)
    c1, c2 = convergence_step(np.exp(-t / 10) + 1), convergence_step(np.exp(-t / 60) + 1)
    assert c1 < c2 < 499
    assert convergence_step(np.linspace(10, 0, 300), patience=20) is None       # never stabilises: reported, not the last step
    assert psi_rqc({'a': 10, 'b': 25}) == {'a': 1.0, 'b': 2.5}
    r = psi_rqc({'a': 10, 'b': 25, 'c': None, 'd': float('nan')})
    assert r['a'] == 1 and r['b'] == 2.5 and np.isnan(r['c']) and np.isnan(r['d'])
    assert all(np.isnan(v) for v in psi_rqc({'a': None}).values())

def test_overlap_criteria():
    from segkit.metrics.efficiency import psi_cfm, psi_goc, psi_ofc, complexity_bins
    m = np.zeros((3, 4, 4), bool); m[0, :2, :2] = True; m[1, :2, 1:3] = True; m[2, 3, 3] = True
    # covered: 4 + 2 new + 1 = 7 pixels; 2 covered twice; Σ CFM = 9; C = 3
    assert psi_cfm(m).sum() == 9 and psi_goc(m) == pytest.approx(2 / 7)
    assert psi_ofc(m) == pytest.approx((9 - 7) / (7 * 3 - 7))
    assert psi_ofc(m[:1]) == 0 and psi_goc(np.zeros((2, 3, 3))) == 0
    with pytest.raises(ValueError, match='binary'): psi_cfm(np.full((2, 2, 2), 3))
    with pytest.raises(ValueError, match='stack'): psi_cfm(np.zeros((4, 4)))
    b = complexity_bins(np.arange(12)[::-1], n=6)
    assert list(np.bincount(b)) == [2] * 6 and b[0] == 5

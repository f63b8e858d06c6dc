"ArchSelect analysis (issue 22): Table 7.2's relative Δ from the printed means, Table 7.2 layout, ψ_OFC regression, the committed ceiling table."
from pathlib import Path
import numpy as np
import pandas as pd
import pytest
from segkit.metrics.archselect import relative_delta, round_half_up, archselect_table, overlap_regression, stack_to_labels

RES = Path(__file__).resolve().parents[1] / 'nbs' / 'results' / 'archselect'

def test_table_7_2_relative_delta_reproduces_five_of_six():
    t = pd.read_csv(RES / 'table7_1_printed.csv', comment='#').set_index('subset')
    rel = round_half_up(100 * relative_delta(t.mrcnn_aji_plus_pct.values, t.unet_aji_plus_pct.values))
    ok = rel == t.delta_printed_pct.values
    assert ok.sum() >= 5 and list(t.index[~ok]) == ['S2']           # S2: 3.6 % from the rounded means, printed 3 %
    assert ((t.mrcnn_aji_plus_pct - t.unet_aji_plus_pct).values == t.delta_printed_pct.values).sum() == 2   # not absolute
    assert list(t.psi_ofc_pct) == [0, 1, 12, 19, 26, 37] and t.n_train.sum() == 780

def test_relative_delta_errors_and_rounding():
    assert relative_delta(0.9, 0.95) == pytest.approx(-0.05263, abs=1e-4)
    with pytest.raises(ValueError, match='`baseline`: expected scores > 0'): relative_delta([0.5], [0.0])
    assert list(round_half_up([12.5, -12.5, 3.57])) == [13, -13, 4]

def test_archselect_table_layout():
    res = pd.DataFrame(dict(bin=np.repeat([1, 2], 8), model=np.tile(np.repeat(['unet', 'mrcnn'], 4), 2), seed=np.tile([0, 0, 1, 1], 4),
                            score=[.9, 1., .95, .95, .9, .9, .85, .95, .4, .4, .45, .35, .5, .6, .55, .55], psi_ofc=np.repeat([0, .37], 8)))
    tb = archselect_table(res, 'unet', 'mrcnn')
    assert tb.loc[1, 'unet_mean'] == pytest.approx(0.95) and tb.loc[2, 'mrcnn_mean'] == pytest.approx(0.55)
    assert tb.loc[2, 'delta_rel'] == pytest.approx(0.15 / 0.40) and list(tb.unet_runs) == [2, 2]
    assert tb.loc[2, 'psi_ofc'] == pytest.approx(0.37)
    with pytest.raises(ValueError, match="`baseline`: model 'x' not in results"): archselect_table(res, 'x', 'mrcnn')

def test_overlap_regression_recovers_slopes_with_intervals():
    rs = np.random.default_rng(1)
    x = rs.uniform(0, .4, 100); a = .9 - .3 * x + rs.normal(0, .02, 100); b = .95 - 1.2 * x + rs.normal(0, .02, 100)
    rg = overlap_regression(x, a, b, n_boot=400, seed=0)
    assert rg.loc['a', 'slope_lo'] < -0.3 < rg.loc['a', 'slope_hi'] and rg.loc['a - b', 'slope_lo'] > 0.7
    flat = overlap_regression(x, a, a + rs.normal(0, .02, 100), n_boot=400, seed=0)   # no difference in trend
    assert flat.loc['a - b', 'slope_lo'] < 0 < flat.loc['a - b', 'slope_hi']
    with pytest.raises(ValueError, match='`psi`: need ≥ 3 samples'): overlap_regression([0, 0, 0], [1, 1, 1], [1, 1, 1])
    with pytest.raises(ValueError, match='NaN'): overlap_regression(x, np.r_[a[:-1], np.nan], b)

def test_stack_to_labels_priority():
    st = np.zeros((2, 3, 5), bool); st[0, :, :3] = True; st[1, :, 2:] = True
    assert stack_to_labels(st)[0].tolist() == [1, 1, 1, 2, 2]
    assert stack_to_labels(st, order=[1, 0])[0].tolist() == [1, 1, 2, 2, 2]
    assert stack_to_labels(np.zeros((0, 3, 5), bool)).shape == (3, 5)

def test_committed_ceiling_table_is_consistent():
    pc = pd.read_csv(RES / 'label_map_ceiling.csv', comment='#')
    assert len(pc) == 120 and (pc.oracle_stack == 1).all()
    assert (pc.loc[pc.psi_ofc == 0, 'ceiling'] == 1).all()        # no overlap: a label map loses nothing
    assert (pc.ceiling[pc.psi_ofc > 0] < 1).all()
    by = pc.groupby('bin').psi_ofc.mean()
    assert by.is_monotonic_increasing and by.iloc[0] == 0

def test_ceiling_table_regenerates_from_the_real_data():
    "The first scenes of the committed table, recomputed from the `nuclei` source (data fetched once, then cached)."
    from segkit.data.overlap import nuclei_overlap
    from segkit.metrics.efficiency import psi_ofc
    from segkit.metrics.instance import instance_scores_stack
    pc = pd.read_csv(RES / 'label_map_ceiling.csv', comment='#')
    ds = nuclei_overlap(n_scenes=(0, 0, 120), size=128, seed=0)
    for i in range(6):
        st = ds[i]['instances']
        assert psi_ofc(st) == pytest.approx(pc.psi_ofc[i], abs=1e-6)
        assert instance_scores_stack(st, stack_to_labels(st))['aji_plus'] == pytest.approx(pc.ceiling[i], abs=1e-6)

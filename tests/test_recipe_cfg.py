"Typed recipe configs, the recipe and demo-step registries, the options parser and the `Report` builder."
import json, subprocess, sys
from dataclasses import dataclass, FrozenInstanceError
from pathlib import Path
import numpy as np
import pandas as pd
import pytest
import torch
from segkit.experiments import (RECIPES, DEMO_STEPS, RecipeCfg, Run, Report, cfg_from, cfg_load, get_recipe, list_recipes,
                                parse_options, md_table)

ALL_RECIPES = ['archselect', 'cam-mounds', 'cam-nuclei', 'coheg-ablation', 'coheg-alpha', 'coheg-merge', 'coheg-transfer', 'demo', 'fewshot-cells', 'grid-demo',
               'im-hybrids', 'im-nuclei', 'neuboot', 'noise-robustness', 'plantseg', 'selfsl-autotune', 'selfsl-bench', 'spoco', 'umaskrcnn', 'upgrade', 'upgrade-cost', 'upgrade-mismatch', 'upgrade-predictions']

@dataclass(frozen=True)
class Toy(RecipeCfg):
    epochs: int = 2
    lr: float = 1e-3
    flag: bool = False
    rates: tuple[float, ...] = (0.0, 0.5)
    names: tuple[str, ...] = ('a',)
    crop: int|None = 96
    kw: dict|None = None
    FULL = dict(epochs=100, rates=(0.1, 0.2, 0.3))
    CHOICES = dict(names=('a', 'b', 'c'))

# ---- registries

@pytest.mark.parametrize('name', ALL_RECIPES)
def test_recipe_conformance(name):
    "Every recipe's presets validate and its config survives config.json; the smoke check can fail (it asserts)."
    assert RECIPES.check(name) is True
    r = get_recipe(name)
    q, f = r.config('quick'), r.config('full')
    assert isinstance(q, r.cfg) and q.preset == 'quick' and f.preset == 'full'
    assert set(r.cfg.FULL) <= set(r.cfg.options()), f"{name}: FULL sets unknown options"

@pytest.mark.parametrize('name', ['cam', 'coheg', 'pretext'])
def test_demo_step_conformance(name):
    assert DEMO_STEPS.check(name) is True

def test_recipe_list_does_not_depend_on_import_order():
    "In a fresh interpreter that imported no recipe module, the registries still list every recipe and demo step."
    code = "from segkit.experiments import RECIPES, DEMO_STEPS; print(','.join(RECIPES.names())); print(','.join(DEMO_STEPS.names()))"
    out = subprocess.run([sys.executable, '-W', 'ignore', '-c', code], capture_output=True, text=True, check=True).stdout.split()
    assert out == [','.join(ALL_RECIPES), 'cam,coheg,fewshot,im,instances,noise,pretext']
    assert list(list_recipes().index) == ALL_RECIPES

# ---- configs

def test_cfg_from_coerces_cli_strings():
    c = cfg_from(Toy, 'quick', dict(epochs='3', lr='0.5', flag='true', rates='0.1,0.2', names='a,b', crop='None', kw="{'x': 1}", seed='4'))
    assert (c.epochs, c.lr, c.flag, c.rates, c.names, c.crop, c.kw, c.seed) == (3, 0.5, True, (0.1, 0.2), ('a', 'b'), None, {'x': 1}, 4)
    assert isinstance(c.lr, float) and isinstance(c.rates[0], float)
    assert cfg_from(Toy, overrides=dict(rates=[0, 1], names='c')).rates == (0.0, 1.0)
    assert cfg_from(Toy, overrides=dict(epochs=5.0)).epochs == 5
    assert cfg_from(Toy, overrides=dict(epochs=None)).epochs == 2          # None = not given (the CLI's unset flags)

def test_presets_and_full_once():
    assert cfg_from(Toy, 'full').epochs == 100 and cfg_from(Toy, 'full', dict(epochs=7)).epochs == 7
    from segkit.recipes.coheg import AblationCfg, TransferCfg, MergeCfg, AlphaCfg, COHEG_FULL
    for cls in (AblationCfg, TransferCfg, MergeCfg, AlphaCfg):   # the thesis protocol is written once and shared
        f = cfg_from(cls, 'full')
        assert all(getattr(f, k) == v for k, v in COHEG_FULL.items()), cls
    from segkit.recipes.selfsl import BenchCfg, BENCH_FULL
    assert BenchCfg.FULL is BENCH_FULL and cfg_from(BenchCfg, 'full').encoder == 'resnet50'

@pytest.mark.parametrize('over, msg', [
    (dict(epoks=3), "unknown option 'epoks' for recipe 'toy'; valid: source, path, seed, device, epochs, lr, flag, rates, names, crop, kw"),
    (dict(epoks=3, lrr=1), "unknown options 'epoks', 'lrr' for recipe 'toy'; valid:"),
    (dict(epochs='many'), "option 'epochs': expected int, got 'many' (recipe 'toy')"),
    (dict(epochs=2.5), "option 'epochs': expected int, got 2.5"),
    (dict(flag='maybe'), "option 'flag': expected bool"),
    (dict(names='a,z'), "unknown value for 'names' 'z' for recipe 'toy'; valid: a, b, c"),
    (dict(preset='full'), "unknown option 'preset'"),           # set by cfg_from, not by users
    (dict(env={}), "unknown option 'env'"),
])
def test_cfg_from_errors(over, msg):
    with pytest.raises(ValueError) as e: cfg_from(Toy, 'quick', over, recipe='toy')
    assert msg in str(e.value)

def test_bad_preset_and_frozen():
    with pytest.raises(ValueError, match="unknown preset 'fast' for recipe 'toy'; valid: quick, full"): cfg_from(Toy, 'fast', recipe='toy')
    c = cfg_from(Toy)
    with pytest.raises(FrozenInstanceError): c.epochs = 3
    assert c.replace(epochs=3).epochs == 3 and c.epochs == 2
    assert c['epochs'] == 2 and c.get('nope', 1) == 1 and dict(c)['lr'] == 1e-3   # read-only mapping view
    with pytest.raises(KeyError): c['nope']

def test_cfg_load_round_trip_and_unknown_keys():
    c = cfg_from(Toy, 'full', dict(names='b')).replace(env={'device': 'cpu'})
    saved = json.loads(json.dumps(dict(c.to_dict(), recipe='toy')))
    assert cfg_load(Toy, saved) == c
    with pytest.raises(ValueError, match="unknown option 'old' for recipe 'toy'"): cfg_load(Toy, dict(saved, old=1))

# ---- the one key=value parser

def test_parse_options_is_the_one_parser():
    from segkit.recipes.selfsl import parse_encoder
    from segkit.cli import _parse_set, CLIError
    s = "depth=3,base=16,name=abc,rates=[0, 0.5]"
    assert parse_encoder('unet:' + s)[1] == parse_options(s) == _parse_set(s) == dict(depth=3, base=16, name='abc', rates=[0, 0.5])
    assert parse_options("rates=0.5,0.7,seeds=3") == dict(rates=(0.5, 0.7), seeds=3)
    assert parse_options("name='a,b',k=1") == dict(name='a,b', k=1)
    with pytest.raises(ValueError, match="encoder spec 'unet:depth': expected key=value, got 'depth'"): parse_encoder('unet:depth')
    with pytest.raises(CLIError, match="--set: expected key=value"): _parse_set('epochs')

# ---- reports

def test_report_builder(tmp_path):
    run = Run.create('toy', {}, tmp_path)
    t = pd.DataFrame({'dice': [0.91234, np.nan], 'n': [3, 4]}, index=pd.Index(['a', 'b'], name='method'))
    p = (Report(run).h1('Title').p('Run ', None, '', '`x`', False, '.').note('synthetic').h2('Results').table(t, '{:.3f}')
         .figure('overlay-a', 'overlay').bullets(['first', 'second']).md(['## Extra', '', 'text', '']).write())
    assert p == run.path / 'report.md'
    assert p.read_text() == '\n'.join(['# Title', '', 'Run `x`.', '', '> synthetic', '', '## Results', '',
                                       '| method | dice | n |', '|---|---:|---:|', '| a | 0.912 | 3 |', '| b | – | 4 |', '',
                                       '![overlay](figures/overlay-a.png)', '', '- first', '- second', '', '## Extra', '', 'text', ''])
    assert md_table(t)[2] == '| a | 0.91234 | 3 |'
    with pytest.raises(ValueError, match='no run folder'): Report().h1('x').write()

def test_findings_use_named_thresholds(monkeypatch):
    import segkit.recipes.coheg as rc
    df = pd.DataFrame(dict(loss='l', rate=[0., .5, .9], seed=0, dice_a=[.8, .76, .3], dice_b=[.8, .76, .3]))
    assert 'up to 50 % dropped' in rc.trend_finding(df, 'l', ['a', 'b']) and 'a collapse' in rc.trend_finding(df, 'l', ['a', 'b'])
    monkeypatch.setattr(rc, 'FLAT_TOL', 0.01); monkeypatch.setattr(rc, 'COLLAPSE_FRACTION', 0.3)
    f = rc.trend_finding(df, 'l', ['a', 'b'])
    assert 'within 1 points of it up to 0 % dropped' in f and 'no collapse' in f
    assert rc.unlearned_findings(df.assign(dice_b=0.05)) and not rc.unlearned_findings(df)

# ---- seeds and names

def test_no_global_seeding_in_recipe_code():
    root = Path(__file__).parents[1] / 'segkit'
    for f in [root / 'experiments.py', *sorted((root / 'recipes').glob('*.py'))]:
        src = f.read_text()
        assert 'set_seed(' not in src and 'manual_seed(' not in src, f.name

def test_build_encoder_restores_the_callers_rng():
    from segkit.recipes.selfsl import build_encoder
    torch.manual_seed(123); before = torch.random.get_rng_state()
    a, b = build_encoder('unet:depth=1,base=4', 5), build_encoder('unet:depth=1,base=4', 5)
    assert torch.equal(torch.random.get_rng_state(), before)
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters()))

def test_results_table_renamed():
    import segkit.recipes.coheg as rc
    from segkit.labels.coheg import coheg_table
    assert rc.coheg_table is coheg_table            # the name now means one thing: the presence table
    df = pd.DataFrame(dict(rate=[0., 0.], seed=[0, 1], dice_a=[.8, .9], dice_b=[.5, .5]))
    assert list(rc.results_table(df, 'rate', ['a', 'b']).columns) == ['a', 'b', 'mean', 'ψ_PFR (mean)']

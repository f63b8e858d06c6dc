"CLI user experience: one-line errors with exit codes, option ranges, `--help` listing a recipe's options, `segkit list` width."
import contextlib, io, json
import pytest
import segkit.experiments as ex
from segkit.cli import main, recipe_help, CLIError
from segkit.experiments import RECIPES, get_recipe, cfg_from, Run

def cli(*args):
    "`main(args)` in process: (exit code, stdout, stderr)."
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err): code = main(list(args))
    return code, out.getvalue(), err.getvalue()

def no_runs(tmp_path): return not (tmp_path / 'runs').exists() or not any((tmp_path / 'runs').iterdir())

# ---- option values: types and ranges, checked before a run folder exists

@pytest.mark.parametrize('opt, msg', [
    ('epochs=-1', "option 'epochs': expected an int ≥ 1, got -1"),
    ('lr=abc', "option 'lr': expected float, got 'abc'"),
    ('lr=0', "option 'lr': expected a float > 0, got 0.0"),
    ('bs=0', "option 'bs': expected an int ≥ 1, got 0"),
    ('epochs=1.5', "option 'epochs': expected int, got 1.5"),
    ('coheg_rate=1.5', "option 'coheg_rate': expected a float in [0, 1], got 1.5"),
    ("steps=['nosuchstep']", "unknown value for 'steps' 'nosuchstep' for recipe 'demo'; valid: cam, coheg, fewshot, im, instances, noise, pretext"),
    ('epoks=3', "unknown option 'epoks' for recipe 'demo'; valid:"),
])
def test_bad_option_values(tmp_path, opt, msg):
    code, out, err = cli('run', 'demo', '--set', opt, '--out', str(tmp_path / 'runs'))
    assert code == 2, err
    assert msg in err and 'see `segkit run demo --help`' in err
    assert err.count('\n') == 1 and 'Traceback' not in err          # one line
    assert no_runs(tmp_path)

def test_ranges_of_tuples_and_presets():
    from segkit.recipes.coheg import AblationCfg
    with pytest.raises(ValueError, match=r"option 'rates': expected a float in \[0, 1\], got 1.2"): cfg_from(AblationCfg, overrides=dict(rates='0.5,1.2'))
    assert cfg_from(AblationCfg, overrides=dict(crop='None')).crop is None          # None passes a range

@pytest.mark.parametrize('name', ALL := ['cam-mounds', 'cam-nuclei', 'coheg-ablation', 'coheg-alpha', 'coheg-merge', 'coheg-transfer',
                                         'demo', 'selfsl-autotune', 'selfsl-bench'])
def test_every_option_is_documented(name):
    "Every option of every recipe has a one-line help (its field's trailing comment); both presets are in range."
    t = get_recipe(name).option_table()
    assert list(t.columns) == ['type', 'default', 'full', 'choices', 'range', 'help']
    missing = list(t.index[t['help'].str.strip() == ''])
    assert not missing, f"{name}: options without help (add a trailing `# comment` to the field): {missing}"
    assert RECIPES.check(name) is True

def test_missing_help_is_detected():
    from dataclasses import dataclass
    from segkit.experiments import RecipeCfg
    @dataclass(frozen=True)
    class NoHelp(RecipeCfg):
        epochs: int = 2
    assert NoHelp.option_help()['epochs'] == '' and NoHelp.option_help()['seed'] == 'first seed'

# ---- help and list

def test_run_recipe_help_lists_options():
    code, out, err = cli('run', 'demo', '--help')
    assert code == 0 and '--resume' in out
    for s in ('epochs (int ≥ 1)', 'training epochs of the main U-Net', 'default 10; --full: 100', 'choices: cam, coheg, fewshot, im,', 'instances, noise, pretext',
              'lr (float > 0)', 'coheg_rate (float in [0, 1])'):
        assert s in out, s
    code, out2, _ = cli('list', 'demo')
    assert code == 0 and out2.strip() == recipe_help('demo').strip()
    code, out3, _ = cli('run', '--seed', '3', 'coheg-ablation', '-h')
    assert code == 0 and "options of recipe 'coheg-ablation'" in out3
    code, _, err = cli('run', 'nope', '--help')
    assert code == 2 and "unknown recipe 'nope'" in err

def test_list_fits_100_columns():
    for args in (['list'], ['list', 'cam-nuclei'], ['list', 'selfsl-bench'], ['run', 'cam-nuclei', '--help']):
        code, out, _ = cli(*args)
        assert code == 0 and max(map(len, out.splitlines())) <= 100, args
    assert 'demo' in cli('list')[1]

# ---- user errors: one line, exit 2, nothing created

def test_bad_data_folder(tmp_path):
    code, out, err = cli('run', 'demo', '--source', 'folder', '--path', '/nonexistent', '--out', str(tmp_path / 'runs'))
    assert code == 2 and "--path: /nonexistent does not exist" in err and err.count('\n') == 1
    (tmp_path / 'empty').mkdir()
    code, out, err = cli('run', 'demo', '--source', 'folder', '--path', str(tmp_path / 'empty'), '--out', str(tmp_path / 'runs'))
    assert code == 2 and err.startswith('segkit run: --source folder:') and err.count('\n') == 1, err
    assert no_runs(tmp_path)

@pytest.mark.parametrize('args, msg', [
    (['run', 'nope'], "unknown recipe 'nope'; known: archselect, cam-mounds"),
    (['run', 'demo', '--source', 'mars'], "unknown source 'mars'; known:"),
    (['run', 'demo', '--bogus'], "unrecognized arguments: --bogus"),
    (['data', 'nope'], "unknown source 'nope'; known:"),
    (['list', 'nope'], "unknown recipe 'nope'; known:"),
])
def test_unknown_names(tmp_path, args, msg):
    code, out, err = cli(*args, *(['--out', str(tmp_path / 'runs')] if args[0] == 'run' else []))
    assert code == 2 and msg in err and 'Traceback' not in err, err
    assert no_runs(tmp_path)

def _run_folder(tmp_path, recipe='demo', **cfg):
    run = Run.create(recipe, cfg_from(get_recipe(recipe).cfg, overrides=cfg).to_dict(), tmp_path / 'runs')
    run._set_status('incomplete')
    return run

def test_bad_resume_folder(tmp_path):
    code, _, err = cli('run', 'demo', '--resume', str(tmp_path))
    assert code == 2 and 'is not a segkit run folder (no config.json)' in err
    run = _run_folder(tmp_path, 'coheg-ablation')
    code, _, err = cli('run', 'demo', '--resume', str(run.path))
    assert code == 2 and f"is a 'coheg-ablation' run, not 'demo'; resume it with `segkit run coheg-ablation --resume {run.path}`" in err

def test_corrupt_checkpoint_on_resume(tmp_path):
    run = _run_folder(tmp_path, epochs=2)
    ck = run.path / 'checkpoints' / 'last.pth'
    ck.write_bytes(b'not a checkpoint')
    code, _, err = cli('run', 'demo', '--resume', str(run.path))
    assert code == 2 and f"checkpoint {ck} is corrupt" in err and err.count('\n') == 1, err
    assert json.loads((run.path / 'status.json').read_text())['state'] == 'incomplete'   # untouched

# ---- Ctrl-C and --debug

def test_ctrl_c_exits_130(tmp_path, monkeypatch):
    def interrupted(*a, **k): raise KeyboardInterrupt
    monkeypatch.setattr(ex, 'run_recipe', interrupted)
    code, _, err = cli('run', 'demo', '--out', str(tmp_path / 'runs'))
    assert code == 130 and err.startswith('segkit run: interrupted (Ctrl-C)') and err.count('\n') == 1

def test_errors_during_the_run_are_one_line(tmp_path, monkeypatch):
    def bad_data(*a, **k): raise ValueError("`path`: x.tif: got shape (0,)")
    monkeypatch.setattr(ex, 'run_recipe', bad_data)
    code, _, err = cli('run', 'demo', '--out', str(tmp_path / 'runs'))
    assert code == 2 and "x.tif: got shape (0,)" in err and '--debug shows the traceback' in err and err.count('\n') == 1
    code, _, err = cli('--debug', 'run', 'demo', '--out', str(tmp_path / 'runs'))
    assert code == 2 and 'Traceback' in err and 'bad_data' in err

def test_debug_shows_the_traceback():
    code, _, err = cli('run', 'nope', '--debug')
    assert code == 2 and 'Traceback' in err and err.strip().splitlines()[-1].startswith("segkit run: unknown recipe 'nope'")

def test_valid_resume_passes_the_checks(tmp_path):
    "A readable checkpoint is not mistaken for a corrupt one: an interrupted run resumes through the CLI."
    r = ex.run_recipe('demo', source='synthetic_blobs', out=tmp_path / 'runs', epochs=1, n=16, size=32, base=4, depth=2, steps=(),
                      device='cpu', verbose=False)
    r._set_status('incomplete')
    code, out, err = cli('run', 'demo', '--resume', str(r.path))
    assert code == 0, err
    assert json.loads((r.path / 'status.json').read_text())['state'] == 'complete'

def test_demo_help_lists_demo_options():
    code, out, _ = cli('demo', '--help')
    assert code == 0 and '--steps' in out and "options of recipe 'demo'" in out

def test_bare_words_in_brackets():
    "`steps=[coheg,cam]` (no quotes, as a shell user types it) is a list of names, and a bad one is named whole."
    assert get_recipe('demo').config(steps='[coheg,cam]').steps == ('coheg', 'cam')
    code, _, err = cli('run', 'demo', '--set', 'steps=[nosuchstep]')
    assert code == 2 and "unknown value for 'steps' 'nosuchstep' for recipe 'demo'" in err

# ---- your own data from the command line (issue 15 item 8)

def _folder(root, n=6, size=32, lonely=True):
    "images/ + masks/ (instance ids) of synthetic blobs, and one image without a mask."
    import numpy as np
    from segkit.core import synth_blobs
    s = synth_blobs(n, size, seed=0)
    for sub in ('images', 'masks'): (root / sub).mkdir(parents=True)
    for k in range(n):
        np.save(root / 'images' / f'b{k}.npy', s.images[k]); np.save(root / 'masks' / f'b{k}.npy', s.masks[k].astype(np.int32))
    if lonely: np.save(root / 'images' / 'lonely.npy', s.images[0])
    return root

def test_folder_source_options_from_the_cli(tmp_path):
    d = _folder(tmp_path / 'data')
    out = str(tmp_path / 'runs')
    code, _, err = cli('run', 'demo', '--source', 'folder', '--path', str(d), '--out', out, '--set', 'epochs=1')
    assert code == 2 and "pass unpaired='skip'" in err and no_runs(tmp_path)
    code, _, err = cli('run', 'demo', '--source', 'folder', '--path', str(d), '--out', out, '--set', 'kind=blobs,unpaired=skip')
    assert code == 2 and "`kind`: expected 'semantic' or 'instance', got 'blobs'" in err and no_runs(tmp_path)
    code, _, err = cli('run', 'coheg-ablation', '--source', 'folder', '--path', str(d), '--out', out, '--set', 'kind=instance')
    assert code == 2 and "recipe 'coheg-ablation' does not pass options to its source" in err and no_runs(tmp_path)
    code, so, err = cli('run', 'demo', '--source', 'folder', '--path', str(d), '--out', out, '--device', 'cpu', '--set',
                        'kind=instance,unpaired=skip,codes=background,blob,epochs=1,depth=1,base=4,crop=None,bs=2,steps=[]')
    assert code == 0, err
    (run,) = (tmp_path / 'runs').iterdir()
    cfg = json.loads((run / 'config.json').read_text())
    assert cfg['source_kw'] == {'kind': 'instance', 'unpaired': 'skip', 'codes': ['background', 'blob']}
    assert 'skipped 1 unpaired files' in so and json.loads((run / 'checkpoints' / 'model.json').read_text())['task'] == 'instance'

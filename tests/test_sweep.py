"""Issue 23 without Ray: the sequential path never imports Ray, the parallel options fail early and cleanly, step graphs behave."""
import json, subprocess, sys, textwrap
import pytest
from segkit.experiments import Run
from segkit.sweep import Step, Ref, plan, run_steps, run_grid, StepsFailed, check_parallel, RayExecutor
from segkit.cli import main

TINY = 'seeds=2,epochs=1,epoch_len=8,crop=32,eval_crop=64'

def test_sequential_never_imports_ray(tmp_path, root):
    "Importing segkit, a sequential grid, a sequential recipe run and the option errors of `segkit run` leave Ray unimported."
    code = textwrap.dedent(f"""
        import sys, json
        import segkit, segkit.sweep, segkit.cli, segkit.experiments, segkit.recipes.sweep
        from segkit.sweep import run_grid
        from segkit.cli import main
        t = run_grid(lambda a: dict(b=2 * a), dict(a=[1, 2]), progress=False)
        rcs = [main(['run', 'demo', '--workers', '0']), main(['run', 'demo', '--gpus-per-step', '1'])]
        rcs.append(main(['run', 'grid-demo', '--device', 'cpu', '--set', '{TINY}', '--out', {str(tmp_path)!r}]))
        print(json.dumps(dict(ray='ray' in sys.modules, b=t['b'].tolist(), rcs=rcs)))
    """)
    p = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd=root, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    got = json.loads(p.stdout.strip().splitlines()[-1])
    assert got == dict(ray=False, b=[2, 4], rcs=[2, 2, 0]), got
    run, = [d for d in tmp_path.iterdir() if d.name.startswith('grid-demo-')]
    assert sorted(f.name for f in (run / 'steps').iterdir()) == ['lr=0.003,seed=0.json', 'lr=0.003,seed=1.json']
    assert json.loads((run / 'status.json').read_text())['state'] == 'complete'

@pytest.mark.parametrize('args, msg', [
    (['--workers', '0'], "segkit run: --workers: expected an int ≥ 1 (processes that run steps at once), got 0"),
    (['--workers', '-3'], "--workers: expected an int ≥ 1"),
    (['--gpus-per-step', '0.5'], "--gpus-per-step: needs --workers or --address"),
    (['--workers', '2', '--gpus-per-step', '1.5'], "--gpus-per-step: expected a fraction in (0, 1] or a whole number of GPUs, got 1.5"),
    (['--address', '127.0.0.1:1'], "--address: no Ray cluster answers at 127.0.0.1:1 within 10 s"),
    (['--threads', '0'], "segkit run: --threads: expected an int ≥ 1 (torch CPU threads), got 0"),
    (['--workers', '2', '--threads', '1'], "--threads: only for a sequential run; with --workers/--address each Ray worker runs with cores ÷ workers threads"),
])
def test_cli_bad_parallel_options(tmp_path, capsys, args, msg):
    "One line, exit code 2, and no run folder."
    assert main(['run', 'demo', '--out', str(tmp_path), *args]) == 2
    err = capsys.readouterr().err
    assert msg in err and err.strip().count('\n') == 0, err
    assert list(tmp_path.iterdir()) == []

def test_cli_gpus_without_gpu(tmp_path, capsys):
    import torch
    if torch.cuda.is_available(): pytest.skip("this machine has a GPU")
    assert main(['run', 'demo', '--out', str(tmp_path), '--workers', '2', '--gpus-per-step', '1']) == 2
    assert "--gpus-per-step: this machine has no CUDA GPU" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []

def test_unreachable_address_is_quick():
    "A closed port fails within the timeout, before Ray is started."
    import time
    t = time.perf_counter()
    with pytest.raises(ConnectionError, match=r"`address`: no Ray cluster answers at 127.0.0.1:1 within 3 s"):
        RayExecutor(address='127.0.0.1:1', timeout=3).start()
    assert time.perf_counter() - t < 5

def _double(x): return 2 * x
def _add(a, b): return a + b

def test_plan_orders_by_dependencies():
    g = [Step('c', _add, (Ref('a'), Ref('b'))), Step('b', _double, (Ref('a'),)), Step('a', _double, (1,)), Step('d', _double, (0,), after=('c',))]
    assert [s.name for s in plan(g)] == ['a', 'b', 'c', 'd']
    with pytest.raises(ValueError, match="dependency cycle"): plan([Step('a', _double, (Ref('b'),)), Step('b', _double, (Ref('a'),))])

def test_dependencies_get_results_and_resume(tmp_path):
    "A chain teacher → student → grand-student gets the results through JSON; a rerun reads them back."
    g = [Step('teacher', _double, (3,)), Step('student', _add, (Ref('teacher'), 1)), Step('grand', _add, (Ref('student'), Ref('teacher')))]
    run = Run.create('chain', {}, tmp_path)
    with run: assert run_steps(run, g, progress=False) == dict(teacher=6, student=7, grand=13)
    def boom(*a): raise AssertionError("recomputed")
    g2 = [Step(s.name, boom, s.args) for s in g]
    with Run.open(run.path) as r: assert run_steps(r, g2, progress=False) == dict(teacher=6, student=7, grand=13)

def test_failure_others_finish_dependants_skip(tmp_path):
    def f(x):
        if x == 1: raise RuntimeError("bad point")
        return x
    g = [Step(f'x={i}', f, (i,)) for i in range(3)] + [Step('after1', _double, (Ref('x=1'),)), Step('after2', _double, (Ref('x=2'),))]
    run = Run.create('fail', {}, tmp_path)
    with pytest.raises(StepsFailed) as e:
        with run: run_steps(run, g, progress=False)
    assert e.value.failed['x=1']['error'] == 'RuntimeError: bad point' and list(e.value.skipped) == ['after1']
    assert e.value.results == {'x=0': 0, 'x=2': 2, 'after2': 4}
    st = run.status
    assert st['state'] == 'incomplete' and st['failed_steps'] == {'x=1': 'RuntimeError: bad point'} and st['skipped_steps'] == ['after1']
    assert 'bad point' in (run.path / 'steps' / 'x=1.error').read_text()

def test_keyboard_interrupt_is_not_a_step_failure(tmp_path):
    "Ctrl-C inside a step stops the run (it is not collected as that step's error)."
    def stop(x): raise KeyboardInterrupt
    run = Run.create('ctrl-c', {}, tmp_path)
    with pytest.raises(KeyboardInterrupt):
        with run: run_steps(run, [Step('a', _double, (1,)), Step('b', stop, (1,)), Step('c', _double, (2,))], progress=False)
    assert run.status['state'] == 'incomplete' and run.done('a') and not run.done('b') and not run.done('c')

def test_run_grid_table_and_folder(tmp_path):
    t = run_grid(lambda lr, seed: dict(loss=lr * 10 + seed), dict(lr=[0.1, 0.2], seed=[0, 1]), out=tmp_path / 'g', progress=False)
    assert t.to_dict('list') == dict(lr=[0.1, 0.1, 0.2, 0.2], seed=[0, 1, 0, 1], loss=[1.0, 2.0, 2.0, 3.0])
    assert len(list((tmp_path / 'g' / 'steps').glob('*.json'))) == 4
    assert run_grid(lambda x: x, [dict(x=1), dict(x=2)], progress=False)['result'].tolist() == [1, 2]

def test_progress_lines_in_logs(capsys):
    "Without a terminal the bar becomes one line per finished step, with the time left."
    from segkit.sweep import StepProgress
    p = StepProgress(4, slots=2)
    p.start(); p.start(); p.finish(8.0); p.fail()
    out = capsys.readouterr().out.splitlines()
    assert out == ["steps: 1/4 done, 1 running, 0 failed, time left: ~12 s", "steps: 1/4 done, 0 running, 1 failed, time left: ~8 s"]

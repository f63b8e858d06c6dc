"""Issue 23 on a local Ray (one cluster for the module): same run folder as sequential, failures, interrupt and resume."""
import json, os, time
import pytest
ray = pytest.importorskip('ray')
import segkit.recipes.sweep  # noqa: F401  (registers grid-demo until its provider is listed)
from segkit.experiments import Run
from segkit.sweep import Step, Ref, run_steps, run_grid, StepsFailed, RayExecutor, Sequential, use_executor
from segkit.experiments import run_recipe
from segkit.cli import main

pytestmark = pytest.mark.slow
TINY = 'seeds=4,epochs=1,epoch_len=8,crop=32,eval_crop=64'
CORES = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()
K = max(1, CORES // 2)   # torch threads of each of 2 local workers: the sequential run needs the same count to give the same floats

@pytest.fixture(scope='module')
def ray2():
    "One local Ray with 2 CPUs for every test here (executors find it running and leave it running)."
    for attempt in (1, 2):   # Ray gives its processes 30 s to start: on a machine loaded by others that can be too short once
        try: ray.init(num_cpus=2, include_dashboard=False, logging_level='WARNING', log_to_driver=False, object_store_memory=256 * 2**20); break
        except Exception as e:   # Ray's own start-up limits (15 s for its agents, 30 s for the node), not segkit's code
            ray.shutdown()
            if attempt == 2: pytest.skip(f"Ray could not start its processes on this machine ({str(e)[:120]}); rerun on a less loaded machine")
    yield
    ray.shutdown()

def _folder(out):
    run, = [d for d in out.iterdir() if d.name.startswith('grid-demo-')]
    return run

def test_workers_same_run_folder_as_sequential(ray2, tmp_path, capsys):
    "`segkit run grid-demo --workers 2` and the sequential run: same metrics.csv, step files, config and report."
    a, b = tmp_path / 'seq', tmp_path / 'par'
    with use_executor(Sequential(threads=K)):   # the workers' thread count (without it, equal results are luck: see below)
        assert main(['run', 'grid-demo', '--device', 'cpu', '--set', TINY, '--out', str(a)]) == 0
    assert main(['run', 'grid-demo', '--device', 'cpu', '--set', TINY, '--out', str(b), '--workers', '2']) == 0
    ra, rb = _folder(a), _folder(b)
    rows = lambda r: sorted((r / 'metrics.csv').read_text().splitlines()[1:])
    assert rows(ra) == rows(rb) and len(rows(ra)) == 4 * 2 + 2
    assert (ra / 'metrics.csv').read_text() == (rb / 'metrics.csv').read_text()        # same order too
    steps = lambda r: {f.name: f.read_text() for f in (r / 'steps').iterdir()}
    assert steps(ra) == steps(rb) and len(steps(ra)) == 4
    assert json.loads((ra / 'config.json').read_text()) == json.loads((rb / 'config.json').read_text())
    rep = lambda r: (r / 'report.md').read_text().replace(r.name, 'RUN')
    assert rep(ra) == rep(rb)
    assert json.loads((rb / 'status.json').read_text())['state'] == 'complete'
    c = tmp_path / 'threads'   # the same from the command line: `--threads K` (the whole run at K threads; config.json records K)
    assert main(['run', 'grid-demo', '--device', 'cpu', '--set', TINY, '--out', str(c), '--threads', str(K)]) == 0
    rc = _folder(c)
    assert (rc / 'metrics.csv').read_text() == (rb / 'metrics.csv').read_text() and steps(rc) == steps(rb)
    assert json.loads((rc / 'config.json').read_text())['env']['threads'] == K

def test_steps_run_in_worker_processes_with_their_share_of_threads(ray2):
    import os
    def where(i):
        import os, torch
        return dict(pid=os.getpid(), threads=torch.get_num_threads())
    t = run_grid(where, dict(i=[0, 1, 2, 3]), workers=2, progress=False)
    assert os.getpid() not in set(t['pid'])
    assert set(t['threads']) == {max(1, len(os.sched_getaffinity(0)) // 2)}

def test_failed_step_reported_others_finish(ray2, tmp_path):
    def f(x):
        if x == 2: raise ValueError(f"no data for x={x}")
        return dict(sq=x * x)
    g = [Step(f'x={i}', f, (i,)) for i in range(4)] + [Step('total', lambda *r: sum(d['sq'] for d in r), tuple(Ref(f'x={i}') for i in range(4)))]
    run = Run.create('fail', {}, tmp_path)
    with RayExecutor(workers=2) as ex, pytest.raises(StepsFailed, match=r"1 of 5 steps failed: x=2 \(ValueError: no data for x=2\); 1 skipped"):
        with run: run_steps(run, g, ex, progress=False)
    assert sorted(p.name for p in (run.path / 'steps').iterdir()) == ['x=0.json', 'x=1.json', 'x=2.error', 'x=3.json']
    assert run.status['failed_steps'] == {'x=2': 'ValueError: no data for x=2'}

class _CtrlC:
    "Wraps an executor: Ctrl-C arrives in the driver while it waits for the `n`-th result."
    def __init__(self, ex, n): self.ex, self.n, self.slots, self.submitted = ex, n, ex.slots, 0
    def submit(self, *a): return self.ex.submit(*a)
    def cancel(self, hs): self.ex.cancel(hs)
    def wait(self, hs):
        self.n -= 1
        if self.n == 0: raise KeyboardInterrupt
        return self.ex.wait(hs)

def test_interrupt_then_resume_reruns_only_unfinished(ray2, tmp_path):
    log = tmp_path / 'calls.log'
    def slow(i):
        with open(log, 'a') as fh: fh.write(f"{i}\n")
        time.sleep(0.5)
        return i
    g = [Step(f'i={i}', slow, (i,)) for i in range(6)]
    run = Run.create('ctrl-c', {}, tmp_path)
    with RayExecutor(workers=2) as ex:
        with pytest.raises(KeyboardInterrupt):
            with run: run_steps(run, g, _CtrlC(ex, 3), progress=False)
        st = run.status
        finished = sorted(p.stem for p in (run.path / 'steps').glob('*.json'))
        assert st['state'] == 'incomplete' and len(finished) == 2
        mtimes = {p.name: p.stat().st_mtime_ns for p in (run.path / 'steps').glob('*.json')}
        before = log.read_text().split()
        with Run.open(run.path) as r: assert run_steps(r, g, ex, progress=False) == {f'i={i}': i for i in range(6)}
    again = log.read_text().split()[len(before):]
    assert not set(again) & {f.split('=')[1] for f in finished}             # finished steps were not rerun
    assert set(again) | {f.split('=')[1] for f in finished} == {str(i) for i in range(6)}
    assert {p.name: p.stat().st_mtime_ns for p in (run.path / 'steps').glob('*.json') if p.name in mtimes} == mtimes

def test_equal_threads_identical_other_threads_not(ray2):
    "A small conv net's weights after 10 SGD steps, as exact floats: `--workers 2` equals `Sequential(threads=cores ÷ 2)`; all cores' threads differ."
    def fit(seed):
        import torch
        g = torch.Generator().manual_seed(seed)
        x = torch.randn(8, 1, 64, 64, generator=g); y = (x > 0.3).float()
        net = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(8, 1, 3, padding=1))
        with torch.no_grad():
            for i, p in enumerate(net.parameters()): p.copy_(torch.randn(p.shape, generator=torch.Generator().manual_seed(100 * seed + i)) * 0.1)
        opt = torch.optim.SGD(net.parameters(), lr=0.1)
        for _ in range(10):
            opt.zero_grad(); torch.nn.functional.binary_cross_entropy_with_logits(net(x), y).backward(); opt.step()
        with torch.no_grad(): return dict(wsum=repr(float(sum(p.double().sum() for p in net.parameters()))), threads=torch.get_num_threads())
    grid = dict(seed=[0, 1, 2, 3])
    par = run_grid(fit, grid, workers=2, progress=False)
    with use_executor(Sequential(threads=K)): seq = run_grid(fit, grid, progress=False)
    assert par.equals(seq) and set(par['threads']) == {K}
    if CORES >= 2:   # the comparison can fail: the thread count changes the order of the CPU sums
        with use_executor(Sequential(threads=CORES)): other = run_grid(fit, grid, progress=False)
        assert not (other['wsum'] == par['wsum']).any(), other

def test_workers_match_equal_thread_sequential_longer_grid(ray2, tmp_path):
    "grid-demo at the quick preset's size, 4 epochs: metrics.csv and step files byte-identical to `Sequential(threads=cores ÷ 2)`."
    cfg = dict(seeds=2, epochs=4, device='cpu')
    with use_executor(Sequential(threads=K)): a = run_recipe('grid-demo', out=tmp_path / 'seq', verbose=False, **cfg)
    with RayExecutor(workers=2) as ex, use_executor(ex): b = run_recipe('grid-demo', out=tmp_path / 'par', verbose=False, **cfg)
    assert ex.threads == K and ex.startup['ray_init_s'] >= 0 and len(ex.startup['worker_import_s']) == 2
    assert (a.path / 'metrics.csv').read_bytes() == (b.path / 'metrics.csv').read_bytes()
    steps = lambda r: {f.name: f.read_bytes() for f in (r / 'steps').iterdir()}
    assert steps(a.path) == steps(b.path) and len(steps(a.path)) == 2

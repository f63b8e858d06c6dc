"""Run-folder locks: a hard-killed run shows as `interrupted`, its stale lock is taken over, two concurrent resumes
cannot both train (one is refused, `history.csv` gets no duplicate rows); a damaged checkpoint names the file and the fix."""
import json, os, signal, socket, subprocess, sys, textwrap, time
from pathlib import Path
import pytest
import torch
from torch import nn
import segkit.experiments as ex
from segkit.experiments import Run, RunLocked, run_exit_code
from segkit.core import synth_shapes
from segkit.learner import seg_dls, seg_learner, resume_from, CheckpointError
from conftest import ROOT

TINY = dict(source='synthetic_blobs', epochs=3, n=16, size=32, base=4, depth=2, steps=(), device='cpu')

# the child: a demo run that stops after its first epoch is written and waits there (to be SIGKILLed),
# or a resume that waits for the parent's `go` (so that two resumes start together)
CHILD = textwrap.dedent('''
    import sys, time, warnings
    from pathlib import Path
    from fastai.callback.core import Callback
    import segkit.experiments as ex, segkit.recipes.demo as demo_mod
    mode, folder = sys.argv[1], Path(sys.argv[2])
    warnings.simplefilter('ignore')
    if mode == 'start':
        class Hang(Callback):
            order = 100
            def after_epoch(self):
                if self.epoch == 0: (folder / 'epoch1-written').touch(); time.sleep(300)
        orig = demo_mod.seg_learner
        demo_mod.seg_learner = lambda *a, **k: orig(*a, **k).add_cb(Hang())
        ex.run_recipe('demo', out=folder, verbose=False, **%r)
    else:
        (folder.parent / f'ready-{mode}').touch()
        while not (folder.parent / 'go').exists(): time.sleep(0.01)
        try: ex.run_recipe('demo', resume=folder, verbose=False)
        except Exception as e:
            code = ex.run_exit_code(e)
            if code is None: raise
            print(f"refused: {e}", file=sys.stderr); sys.exit(code)
''' % TINY)

def child(tmp_path, *args):
    env = {**os.environ, 'CUDA_VISIBLE_DEVICES': '', 'PYTHONPATH': f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.Popen([sys.executable, '-c', CHILD, *map(str, args)], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

def wait_for(p:Path, procs, timeout=90):
    t0 = time.time()
    while not p.exists():
        for q in procs:
            if q.poll() is not None: raise AssertionError(f"child ended early ({q.returncode}): {q.stderr.read()[-2000:]}")
        if time.time() - t0 > timeout: raise AssertionError(f"timed out waiting for {p}")
        time.sleep(0.05)

def history_rows(f:Path) -> list:
    "The full rows of a history CSV (repeated headers and `epoch,time` rows of skipped epochs left out), as written."
    rows = [l for l in f.read_text().splitlines() if l.strip()]
    n = rows[0].count(',')
    return [r for r in rows[1:] if r != rows[0] and r.count(',') == n]

def test_killed_run_is_interrupted_and_one_resume_wins(tmp_path):
    out = tmp_path / 'runs'
    p = child(tmp_path, 'start', out)
    try:
        wait_for(out / 'epoch1-written', [p]); (run_dir,) = [d for d in out.iterdir() if d.is_dir()]
        run = Run.open(run_dir)
        assert run.status['state'] == 'running' and run.lock_info()['pid'] == p.pid
        with pytest.raises(RunLocked, match=f"run folder {run_dir} is in use by PID {p.pid} on {socket.gethostname()}"):
            with Run.open(run_dir): pass                               # a second `Run` on the folder is refused
        assert run.status['state'] == 'running'                         # ... and changed nothing
    finally:
        p.send_signal(signal.SIGKILL); p.wait()
    # hard-killed: status.json still says running, the lock is left behind, but the state is honest
    assert json.loads((run_dir / 'status.json').read_text())['state'] == 'running'
    assert run.lock_file.exists() and not run.lock_info()['alive']
    st = run.status
    assert st['state'] == 'interrupted' and f"PID {p.pid}" in st['note']
    assert len(history_rows(run_dir / 'history.csv')) == 1
    # two resumes at once: both find the stale lock, exactly one takes it over and trains, the other is refused
    a, b = child(tmp_path, 'a', run_dir), child(tmp_path, 'b', run_dir)
    try:
        wait_for(out / 'ready-a', [a, b]); wait_for(out / 'ready-b', [a, b])   # both imported and waiting
        (out / 'go').touch()
        res = [(q.wait(timeout=300), q.stderr.read()) for q in (a, b)]
    finally:
        for q in (a, b):
            if q.poll() is None: q.kill(); q.wait()
    codes = sorted(r[0] for r in res)
    assert codes == [0, 2], res
    refused = next(err for c, err in res if c == 2)
    assert f"run folder {run_dir} is in use by PID" in refused and socket.gethostname() in refused
    assert 'Traceback' not in refused and len([l for l in refused.splitlines() if 'run folder' in l]) == 1   # one line
    st = Run.open(run_dir).status
    assert st['state'] == 'complete' and f"took over the lock of PID {p.pid}" in st['stale_lock']
    assert not run.lock_file.exists()
    epochs = [int(r.split(',')[0]) for r in history_rows(run_dir / 'history.csv')]
    assert epochs == [0, 1, 2], epochs                                  # no duplicate rows
    assert (run_dir / 'metrics.csv').exists()

def test_lock_released_on_exception_and_refuses_twin(tmp_path):
    run = Run.create('toy', {}, tmp_path)
    with pytest.raises(ValueError):
        with run: raise ValueError('boom')
    assert not run.lock_file.exists() and run.status['state'] == 'incomplete'
    with run:
        with pytest.raises(RunLocked) as e: Run.open(run.path).__enter__()
        assert run_exit_code(e.value) == 2 and str(os.getpid()) in str(e.value)
    assert not run.lock_file.exists() and run.status['state'] == 'complete'

def test_foreign_host_lock_is_respected(tmp_path):
    run = Run.create('toy', {}, tmp_path)
    run.lock_file.write_text(json.dumps(dict(pid=1, host='elsewhere', started='now')))
    with pytest.raises(RunLocked, match='in use by PID 1 on elsewhere'):
        with run: pass

def test_damaged_checkpoint_names_file_and_fix(tmp_path):
    s = synth_shapes(8, 32, seed=0)
    dls = seg_dls((s.images[:6], s.masks[:6]), (s.images[6:], s.masks[6:]), bs=3, device='cpu')
    l1 = seg_learner(dls, 4, model=nn.Conv2d(1, 4, 3, padding=1), ckpt_dir=tmp_path)
    with l1.no_bar(), l1.no_logging(): l1.fit(2, 1e-3)
    last, prev = tmp_path / 'last.pth', tmp_path / 'prev.pth'
    assert torch.load(prev, weights_only=True)['epoch'] == 0 and torch.load(last, weights_only=True)['epoch'] == 1
    l2 = seg_learner(dls, 4, model=nn.Conv2d(1, 4, 3, padding=1))
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])       # truncated
    with pytest.raises(CheckpointError) as e: resume_from(l2, last)
    msg = str(e.value)
    assert f"checkpoint {last} cannot be read" in msg and f"mv {prev} {last}" in msg and 'resume after epoch 1' in msg
    assert run_exit_code(e.value) == 2 and '\n' not in msg
    prev.replace(last)
    assert resume_from(l2, last) == 1                                     # the fix works
    last.write_text('not a checkpoint')                                   # garbage, no previous epoch left
    with pytest.raises(CheckpointError, match='or delete it to train from the first epoch'): resume_from(l2, last)

def test_lock_is_published_whole(tmp_path):
    "The lock appears with its full content at once (a reader never sees it empty) and is never overwritten."
    from segkit.experiments import _publish_new
    f = tmp_path / 'run.lock'
    _publish_new(f, '{"pid": 1}')
    assert f.read_text() == '{"pid": 1}' and [p.name for p in tmp_path.iterdir()] == ['run.lock']   # no private file left
    with pytest.raises(FileExistsError): _publish_new(f, '{"pid": 2}')
    assert f.read_text() == '{"pid": 1}' and len(list(tmp_path.iterdir())) == 1

"""Distributed pretext losses: two CPU processes (gloo) with gathered embeddings reproduce the single-process
computation on the concatenated batch (SimCLR NT-Xent, Barlow Twins, MoCo's queue); without gathering they do not."""
import pytest
import torch
torch.set_num_threads(1)
import torch.nn.functional as F
from segkit.models.encoders import get_encoder
from segkit.selfsl.pretext import PRETEXTS, nt_xent, barlow_twins_loss, get_pretext
from segkit.selfsl.dist import distributed_task, gather_with_grad, gather_nograd, world_size
from ddp_harness import dist_selfcheck, ddp_selfcheck

def test_two_processes_match_single_process():
    d = dist_selfcheck(world=2, n=8, d=16, queue_size=32, seed=0)
    assert set(d) == {'simclr_loss', 'simclr_grad', 'barlow_twins_loss', 'barlow_twins_grad', 'moco_loss', 'moco_queue', 'moco_ptr'}
    assert max(d.values()) < 1e-5, d

def test_local_batches_alone_would_differ():
    "The check can fail: per-process losses on half batches are not the global-batch losses."
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(8, 16, generator=g), torch.randn(8, 16, generator=g)
    assert abs(float(nt_xent(z1[:4], z2[:4]) - nt_xent(z1, z2))) > 1e-3
    assert abs(float(barlow_twins_loss(z1[:4], z2[:4]) - barlow_twins_loss(z1, z2))) > 1e-3

def test_single_process_is_identity():
    assert world_size() == 1
    x = torch.randn(3, 4, requires_grad=True)
    assert gather_with_grad(x) is x and torch.equal(gather_nograd(x), x)
    t = distributed_task(get_pretext('barlow_twins', get_encoder('unet', depth=1, base=4), proj_dim=8, hidden=8))
    z1, z2 = torch.randn(6, 8), torch.randn(6, 8)
    assert torch.allclose(t.loss((z1, z2)), barlow_twins_loss(z1, z2, t.lambd))
    assert distributed_task(t) is t

def test_distributed_task_bad_input():
    with pytest.raises(TypeError, match='PretextTask'): distributed_task(torch.nn.Linear(2, 2))

def test_distributed_hooks_are_declared_on_the_template():
    "Global-batch methods say so on their class; switching a task on sets its hooks, no instance methods are replaced."
    assert sorted(n for n in PRETEXTS.names() if PRETEXTS[n].global_batch_loss) == ['barlow_twins', 'simclr']
    assert all(PRETEXTS[n].check_kwargs is not None for n in PRETEXTS.names())
    t = get_pretext('densecl', get_encoder('unet', depth=1, base=4), queue_size=8, proj_dim=8)
    before = dict(vars(t))
    distributed_task(t)
    assert t.distributed and t.queue.gather is gather_nograd and t.dense_queue.gather is gather_nograd
    assert 'loss' not in vars(t) and 'keys' not in vars(t) and 'push' not in vars(t.queue)
    t.set_distributed(False); assert not t.distributed and t.queue.gather is None

def test_no_segkit_module_patches_fastai():
    "Importing every segkit module in a fresh interpreter leaves fastai's `DistributedDL._broadcast` as fastai wrote it."
    import subprocess, sys
    code = ("import importlib, pkgutil, segkit\n"
            "bad = []\n"
            "for m in pkgutil.walk_packages(segkit.__path__, 'segkit.'):\n"
            "    try: importlib.import_module(m.name)\n"
            "    except ImportError as e: bad.append((m.name, str(e)))\n"
            "import fastai.distributed as fd\n"
            "print(fd.DistributedDL._broadcast.__module__, fd.DistributedDL._broadcast.__qualname__, bad)")
    p = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.split()[:2] == ['fastai.distributed', 'DistributedDL._broadcast'], p.stdout

# ---- fastai Learners under torchrun (2 CPU processes, gloo, DDP through accelerate)

from segkit.selfsl.dist import shuffled_keys, distributed, launched_world

def test_fastai_learners_under_torchrun_match_one_process():
    "Every pretext task trained 3 steps in 2 torchrun processes equals one process on the concatenated batch; FCMAE's ranks agree."
    chk = ddp_selfcheck(methods=PRETEXTS.names(), world=2, bs=4, steps=3)
    assert set(chk.index) == set(PRETEXTS.names())
    assert (chk['between_ranks'] < 1e-6).all(), chk          # DDP kept every process's weights, queues and targets equal
    exact = chk.drop('fcmae')
    assert (exact['moved'] > 1e-6).all(), chk                 # training did change the state
    assert (exact['relative'] < 1e-3).all() and (exact['loss_diff'] < 1e-5).all(), chk

def test_torchrun_check_fails_without_distributed_task():
    "Plain tasks in the workers (local NT-Xent / Barlow batch, local queues) differ from one process: the check can fail."
    chk = ddp_selfcheck(methods=('simclr', 'barlow_twins', 'moco'), world=2, bs=4, steps=3, wrap=False)
    assert ((chk['relative'] > 1e-2) | (chk['loss_diff'] > 1e-3)).all(), chk

def test_single_process_helpers():
    assert launched_world() == 1
    v = torch.randn(5, 3)
    assert torch.equal(shuffled_keys(lambda t: t * 2, v), v * 2)
    sentinel = object()
    with distributed(sentinel) as l: assert l is sentinel     # no launch: the learner is left alone

def test_segkit_pretrain_and_finetune_under_torchrun(tmp_path):
    "`torchrun … segkit pretrain` / `finetune`: two gloo processes share each batch; rank 0 writes the encoder and reports."
    import json, os, subprocess, sys
    from pathlib import Path
    exe = Path(sys.executable).parent / 'segkit'
    env = dict(os.environ, OMP_NUM_THREADS='1')
    run = lambda *a: subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=2', str(exe), *a],
                                    env=env, capture_output=True, text=True, timeout=600)
    out = tmp_path / 'enc.pth'
    p = run('pretrain', 'simclr', '--source', 'synthetic_blobs', '--encoder', 'unet:depth=2,base=4', '--epochs', '2', '--epoch_len', '32',
            '--bs', '4', '--crop', '32', '--out', str(out))
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.count('simclr on') == 1                     # only rank 0 reports
    h = json.loads(out.with_suffix('.json').read_text())
    assert len(h['batch_losses']) == 2 * 32 // (4 * 2)          # each process iterates its half of every epoch
    assert out.exists() and h['best_epoch'] in (0, 1)
    p = run('finetune', str(out), '--source', 'synthetic_blobs', '--encoder', 'unet:depth=2,base=4', '--epochs', '1', '--epoch_len', '16',
            '--bs', '4', '--crop', '32', '--rate', '0.25')
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.count('Dice') == 1 and 'AJI⁺' in p.stdout

"""Distributed pretext losses: two CPU processes (gloo) with gathered embeddings reproduce the single-process
computation on the concatenated batch (SimCLR NT-Xent, Barlow Twins, MoCo's queue); without gathering they do not."""
import pytest
import torch
torch.set_num_threads(1)
import torch.nn.functional as F
from segkit.models.encoders import get_encoder
from segkit.selfsl.pretext import nt_xent, barlow_twins_loss, get_pretext
from segkit.selfsl.dist import dist_selfcheck, distributed_task, gather_with_grad, gather_nograd, world_size

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

"""Hash networks and their device copies."""

import torch

from skdistillhash._torch._networks import on_device


def test_encoding_on_a_device_copies_the_network_once():
    net = torch.nn.Linear(3, 2)
    meta = torch.device("meta")
    first = on_device(net, meta)
    assert on_device(net, meta) is first and on_device(net, torch.device("cpu")) is net
    assert first.weight.device == meta and net.weight.device.type == "cpu"
    with torch.no_grad():
        net.weight.add_(1.0)  # changed in place (as a refit or warm start would): copy again
    assert on_device(net, meta) is not first

import pytest
import torch

from flowerstudio.core.runtime.threads import one_thread_on_cpu


def test_one_thread_inside_the_block_and_the_setting_restored_after_it_even_on_an_error():
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        with one_thread_on_cpu(torch.device("cpu")):
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
        with pytest.raises(ValueError):
            with one_thread_on_cpu(torch.device("cpu")):
                raise ValueError("a failing step")
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_a_gpu_keeps_the_cpu_threads_as_they_are():
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        with one_thread_on_cpu(torch.device("cuda")):  # only the device's type is read: no GPU needed
            assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)

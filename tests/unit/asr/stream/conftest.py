import pytest
import torch


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # 2 cores shared with other jobs: one intra-op thread is several times faster than contended two
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)

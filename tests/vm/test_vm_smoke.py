"""The VM harness proves itself: a hand-made ESP tunnel works in the guest."""

import pytest

from .checks import check_scenario

pytestmark = pytest.mark.vm


@pytest.mark.vm_scenario("smoke")
def test_guest_kernel_carries_esp_through_a_hand_made_tunnel(vm_run):
    check_scenario(vm_run, "smoke")

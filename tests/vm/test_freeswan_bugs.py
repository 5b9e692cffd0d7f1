"""FreeS/WAN 1.5's eight serious bugs, each shown impossible in Cygnet with real
packets in the VM (the guest tests do the work; see tests/vm/guest).

Each test asserts its scenario's verdict from the guest and prints what was
measured; ``-s`` shows the figures as they come.
"""

import pytest

from .checks import check_scenario

pytestmark = pytest.mark.vm


@pytest.mark.vm_scenario("interfaces")
def test_tunnel_interfaces_are_not_limited_in_number(vm_run):
    check_scenario(vm_run, "interfaces")


@pytest.mark.vm_scenario("ip-options")
def test_packets_with_ip_options_cross_tunnel_and_transport_mode_intact(vm_run):
    check_scenario(vm_run, "ip-options")


@pytest.mark.vm_scenario("large-packets")
def test_large_packets_cross_transport_mode_whole_and_pmtu_is_learned(vm_run):
    check_scenario(vm_run, "large-packets")


@pytest.mark.vm_scenario("rekey")
def test_rekeying_under_traffic_loses_no_packets_and_leaks_no_memory(vm_run):
    check_scenario(vm_run, "rekey")


@pytest.mark.vm_scenario("spoofed-cleartext")
def test_spoofed_cleartext_is_dropped(vm_run):
    check_scenario(vm_run, "spoofed-cleartext")


@pytest.mark.vm_scenario("restart")
def test_start_stop_and_restart_leak_no_cleartext(vm_run):
    check_scenario(vm_run, "restart")


@pytest.mark.vm_scenario("route-replace")
def test_replacing_the_route_to_a_protected_subnet_loses_no_packets(vm_run):
    check_scenario(vm_run, "route-replace")


@pytest.mark.vm_scenario("exceptions")
def test_one_subnet_encrypted_and_its_neighbour_in_clear_behind_one_gateway(vm_run):
    check_scenario(vm_run, "exceptions")

# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""compose_ready: when the stack role may skip its health-gate call after a compose up that changed nothing."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.commandcenter.infra.plugins.filter.compose_ready import compose_ready


def container(service, state="running", health="healthy", exit_code=0, oneoff="False"):
    return {"Service": service, "State": state, "Health": health, "ExitCode": exit_code,
            "Labels": {"com.docker.compose.oneoff": oneoff, "com.docker.compose.service": service}}


def test_running_and_healthy_or_without_healthcheck_is_ready():
    assert compose_ready([container("redis"), container("exporter", health="")])
    assert compose_ready([container("redis"), container("exporter", health="")], ["redis"])


@pytest.mark.parametrize("bad", [
    container("redis", health="starting"),
    container("redis", health="unhealthy"),
    container("redis", state="restarting"),
    container("redis", state="exited", exit_code=1),
    container("redis", state="created", health=""),
])
def test_any_container_not_ready_runs_the_gate(bad):
    assert not compose_ready([container("exporter"), bad])
    assert not compose_ready([container("redis"), bad], ["redis"]), "every container of a service counts"


def test_a_wanted_service_without_a_container_runs_the_gate():
    assert not compose_ready([container("exporter")], ["redis", "exporter"])
    assert not compose_ready([], [])
    assert not compose_ready([container("web")], ["web"], ["migrate"])


def test_one_shot_services_must_have_exited_zero():
    assert compose_ready([container("web"), container("migrate", state="exited", health="", exit_code=0)],
                         ["web"], ["migrate"])
    assert not compose_ready([container("web"), container("migrate", state="exited", exit_code=2)], ["web"], ["migrate"])
    assert not compose_ready([container("web"), container("migrate", state="running")], ["web"], ["migrate"])


def test_one_off_runs_are_ignored():
    assert compose_ready([container("web"), container("web", state="exited", exit_code=1, oneoff="True")])
    assert compose_ready([container("web"), {**container("web", state="exited", exit_code=1),
                                             "Labels": "com.docker.compose.oneoff=True,x=y"}])


def test_services_not_selected_do_not_count():
    assert compose_ready([container("web"), container("other", health="unhealthy")], ["web"])


def test_anything_but_a_list_of_containers_is_refused():
    with pytest.raises(AnsibleFilterError, match="containers list"):
        compose_ready({"Service": "web"})

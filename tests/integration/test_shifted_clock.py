"""A real server started under a shifted clock (Debian's faketime) escalates an overdue petition to the leader."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time

import pytest

from tests.integration.test_api_server import CLI, Server

FAKETIME = shutil.which("faketime")


class ShiftedServer(Server):
    """`petitions serve` under `faketime`, with a fast in-process ticker."""

    def __init__(self, env: dict[str, str], shift: str) -> None:
        super().__init__(env)
        self.shift = shift

    def start(self):  # type: ignore[no-untyped-def]
        argv = [CLI, "serve", "--port", str(self.port), "--interval", "0.5"]
        if self.shift:
            argv = [FAKETIME, "-f", self.shift, *argv]
        # faketime forks the server and waits for it: a group of its own lets `stop` end both.
        self.proc = subprocess.Popen(argv, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     start_new_session=True)
        return self._wait_ready()

    def stop(self) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(15)


# `make test` installs faketime with chromium (Makefile target `chromium`); without it this check cannot run.
@pytest.mark.skipif(FAKETIME is None, reason="Debian's faketime is not installed (make test installs it)")
def test_overdue_escalation_reaches_the_leader_inbox_under_a_shifted_clock(server: Server) -> None:
    api = server.start()
    tok = {u: api.token(u) for u in ("tn", "ld", "qhxd", "dn")}
    status, created = api.call("POST", "/api/v1/petitions",
                               {"title": "Sụt áp", "content": "Điện áp thấp kéo dài.", "zone": "TL"}, tok["dn"])
    assert status == 201
    code = created["tracking_code"]
    api.complete(tok["tn"], code, "register", {"register_decision": "accept"})
    api.complete(tok["tn"], code, "classify", {"petition_type": "KN", "category": "DIEN", "priority": "THUONG",
                                               "within_authority": True, "triage_outcome": "THUOC_THAM_QUYEN"})
    api.complete(tok["ld"], code, "assign", {"lead_unit": "QHXD", "coordinating_agencies": [], "working_days": 2})
    status, tasks = api.call("GET", "/api/v1/tasks", token=tok["ld"])
    assert not [t for t in tasks["tasks"] if t["petition"] == code and t["name"] == "review_overdue"]
    server.stop()

    shifted = ShiftedServer(server.env, "+40d")
    shifted.port = server.port
    api = shifted.start()
    tok = {u: api.token(u) for u in ("ld", "qhxd")}  # the old tokens expired 40 days ago
    try:
        found = []
        for _ in range(120):  # the in-process ticker sweeps every 0.5 s (of the shifted clock)
            status, tasks = api.call("GET", "/api/v1/tasks", token=tok["ld"])
            found = [t for t in tasks["tasks"] if t["petition"] == code and t["name"] == "review_overdue"]
            if found:
                break
            time.sleep(0.5)
        assert found, "the overdue escalation never reached the leader's inbox"
        status, handle = api.call("GET", "/api/v1/tasks", token=tok["qhxd"])
        assert [t for t in handle["tasks"] if t["petition"] == code and t["name"] == "handle"][0]["overdue"] is True
    finally:
        shifted.stop()

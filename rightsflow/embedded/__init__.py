"""The embedded (laptop) stack behind ``rightsflow up`` / ``rightsflow down``; not used in production.

Under ``RIGHTSFLOW_HOME`` (default ``./.rightsflow``) it runs, all bound to 127.0.0.1:

* the Temporal CLI dev server (``temporal server start-dev``) with its SQLite file in
  ``<home>/temporal/temporal.db`` and the Web UI decoding through our codec endpoint
  (:mod:`.temporal`);
* a SeaweedFS S3 server (``weed mini``) with its data in ``<home>/s3`` (:mod:`.seaweedfs`);
* the remote codec endpoint (``python -m rightsflow.codec``) and the rightsflow worker
  (``python -m rightsflow.worker``) (:mod:`.children`);
* every registered extra process: console, mail catcher, ... (:mod:`.extras`, the extension point).

:mod:`.supervisor` starts them in order, creates the Object Lock archive bucket, generates keys and
S3 credentials on first start, seeds the demo data, prints every address, and writes
``<home>/run/stack.json`` with the child pids so ``rightsflow down`` (from any shell) can stop them.
Logs go to ``<home>/logs/``. A second ``up`` reuses the same directories, so workflows, the
register and the archive survive restarts. :mod:`.processes` holds the process plumbing.
"""

from __future__ import annotations

from rightsflow.embedded.children import start_codec_endpoint_process, start_worker_process
from rightsflow.embedded.extras import (
    EXTRA_PROCESSES,
    ExtraContext,
    ExtraProcess,
    http_ready,
    register_process,
    registered_processes,
    tcp_ready,
    unregister_process,
)
from rightsflow.embedded.processes import (
    LOOPBACK,
    READY_TIMEOUT,
    STOP_TIMEOUT,
    ManagedProcess,
    StackAlreadyRunning,
    StackError,
    find_binary,
    free_port,
    port_in_use,
)
from rightsflow.embedded.seaweedfs import ensure_s3_credentials, start_seaweedfs
from rightsflow.embedded.supervisor import (
    DEFAULT_CODEC_PORT,
    Stack,
    pidfile_path,
    start_stack,
    stop_stack,
)
from rightsflow.embedded.temporal import start_temporal_dev_server, temporal_ready

__all__ = [
    "DEFAULT_CODEC_PORT",
    "EXTRA_PROCESSES",
    "LOOPBACK",
    "READY_TIMEOUT",
    "STOP_TIMEOUT",
    "ExtraContext",
    "ExtraProcess",
    "ManagedProcess",
    "Stack",
    "StackAlreadyRunning",
    "StackError",
    "ensure_s3_credentials",
    "find_binary",
    "free_port",
    "http_ready",
    "pidfile_path",
    "port_in_use",
    "register_process",
    "registered_processes",
    "start_codec_endpoint_process",
    "start_seaweedfs",
    "start_stack",
    "start_temporal_dev_server",
    "start_worker_process",
    "stop_stack",
    "tcp_ready",
    "temporal_ready",
    "unregister_process",
]

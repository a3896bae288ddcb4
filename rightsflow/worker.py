"""The worker: every workflow and activity, with the encrypting payload codec.

Run ``python worker.py`` or ``rightsflow worker``; it connects to TEMPORAL_ADDRESS /
TEMPORAL_NAMESPACE (TLS when TEMPORAL_TLS_* are set).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from concurrent.futures import ThreadPoolExecutor

from temporalio.client import Client
from temporalio.worker import Worker

from activities.correspondence import CorrespondenceActivities
from activities.discovery import DiscoveryActivities
from activities.erasure import ErasureActivities
from activities.portability import PortabilityActivities
from activities.retention import RetentionActivities
from activities.rights import RightsActivities
from activities.subject_access import SubjectAccessActivities
from activities.transfer import TransferActivities, TransferIntakeActivities
from activities.transfer_inbox import TransferInboxActivities
from workflows.erasure import Erasure
from workflows.objection import ConsentWithdrawal, Objection
from workflows.portability_person import PortabilityToPerson
from workflows.portability_transfer import PortabilityTransfer
from workflows.rectification import Rectification
from workflows.restriction import Restriction
from workflows.retention_sweep import RetentionSweep, ServiceSweep
from workflows.subject_access import SubjectAccessRequest
from workflows.subject_search import SubjectSearch
from workflows.transfer_inbox_scan import TransferInboxScan
from workflows.transfer_intake import TransferIntake

from .catalog import load_catalog
from .codec import connect_client
from .config import Settings, load_settings
from .register import Register

log = logging.getLogger("rightsflow.worker")

WORKFLOWS: list[type] = [SubjectSearch, SubjectAccessRequest, RetentionSweep, ServiceSweep]
WORKFLOWS += [Erasure, Restriction, Rectification]
WORKFLOWS += [Objection, ConsentWithdrawal]
WORKFLOWS += [PortabilityTransfer, TransferIntake]
WORKFLOWS += [PortabilityToPerson, TransferInboxScan]


def build_activities(settings: Settings) -> list:
    catalog = load_catalog(settings.catalog_dir)
    register = Register(settings)
    register.create_schema()
    discovery = DiscoveryActivities(settings, catalog, register)
    activities = [discovery.list_services, discovery.discover_in_service]
    sar = SubjectAccessActivities(settings, catalog, register)
    activities += [
        sar.record_event,
        sar.confirm_matches,
        sar.gather_service,
        sar.redact,
        sar.build_and_deliver_pack,
        sar.write_letter,
        sar.purge_working_copies,
    ]
    retention = RetentionActivities(settings, catalog, register)
    activities += [
        retention.retention_services,
        retention.count_people,
        retention.sweep_batches,
        retention.finish_service,
        retention.review_reminders,
    ]
    transfer = TransferActivities(settings, catalog, register)
    activities += [
        transfer.record_transfer_event,
        transfer.resolve_family,
        transfer.gather_family,
        transfer.build_package,
        transfer.deliver,
        transfer.mark_transferred,
        transfer.remove_package,
        transfer.purge_transfer_work,
        transfer.check_acknowledgement,
        transfer.check_rejection,
    ]
    intake = TransferIntakeActivities(settings, catalog, register)
    activities += [intake.validate_delivery, intake.import_bag, intake.write_ack, intake.record_intake_event]
    activities += [TransferInboxActivities(settings, catalog, register).scan_transfer_inbox]
    portability = PortabilityActivities(settings, catalog, register)
    activities += [
        portability.check_portability,
        portability.gather_own_records,
        portability.send_portability_package,
    ]
    erasure = ErasureActivities(settings, catalog, register)
    rights = RightsActivities(settings, catalog, register)
    activities += [erasure.assess_service, erasure.erase_service]
    activities += [
        rights.record_decision,
        rights.set_restriction,
        rights.withdraw_consent,
        rights.rectify_service,
        rights.attach_statement,
        rights.holds_field,
        rights.send_notices,
        rights.write_rights_letter,
        rights.write_rights_certificate,
    ]
    letters = CorrespondenceActivities(settings, catalog, register)
    activities += [letters.send_letter, letters.notify_staff]
    return activities


def build_worker(client: Client, settings: Settings, executor: ThreadPoolExecutor) -> Worker:
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=WORKFLOWS,
        activities=build_activities(settings),
        activity_executor=executor,
        max_concurrent_activities=16,
    )


async def run_worker(settings: Settings | None = None) -> None:
    from rightsflow.memory import limit_malloc_arenas
    from rightsflow.permissions import private_umask

    arenas = limit_malloc_arenas()  # before any thread of ours or of Temporal's core starts
    private_umask()  # stores, register and logs it creates are for this account alone
    settings = settings or load_settings()
    client = await connect_client(settings)
    with ThreadPoolExecutor(max_workers=16) as executor:
        worker = build_worker(client, settings, executor)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        log.info(
            "worker on %s / %s, task queue %s, malloc arenas %s",
            settings.temporal_address,
            settings.temporal_namespace,
            settings.task_queue,
            arenas or "as glibc chooses",
        )
        async with worker:
            await stop.wait()
        log.info("worker stopped")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(run_worker())
    # The worker has drained and shut down; skip interpreter finalisation, where the
    # Temporal core runtime's threads can abort the process after a clean stop.
    logging.shutdown()
    os._exit(0)


if __name__ == "__main__":
    main()

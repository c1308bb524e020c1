"""The request bodies python-coriolisclient and coriolis-web send, as they send them (read from their code).

python-coriolisclient: ``coriolisclient/v1/*.py`` (managers build these bodies); coriolis-web:
``src/sources/*Source.ts``. Every omitted option goes out as ``null``; ids in instance paths as URL-safe
base64; schedule fields as integers.
"""

from __future__ import annotations

import base64
import json
from typing import Any


def b64(text: str) -> str:
    """How the clients put an instance id in a path or ``?env=`` (``encode_base64_param``)."""
    return base64.urlsafe_b64encode(text.encode()).decode()


def b64_json(value: Any) -> str:
    return b64(json.dumps(value))


def endpoint_create(name: str, ptype: str, connection_info: dict, description: str | None = None,
                    regions: list[str] | None = None) -> dict:
    """``EndpointManager.create``: every key present, ``null`` when not given."""
    return {"endpoint": {"name": name, "type": ptype, "description": description,
                         "connection_info": connection_info, "mapped_regions": regions}}


def transfer_create(origin: str, destination: str, instances: list[str], source_environment: dict | None = None,
                    destination_environment: dict | None = None, notes: str | None = None,
                    scenario: str = "replica") -> dict:
    """``TransferManager.create`` with the CLI's defaults: maps taken from the destination environment, scripts
    and notes ``null``; ``source_environment`` only when given."""
    destination_environment = destination_environment or {}
    body = {
        "origin_endpoint_id": origin,
        "destination_endpoint_id": destination,
        "destination_environment": destination_environment,
        "instances": instances,
        "scenario": scenario,
        "network_map": destination_environment.get("network_map", {}),
        "notes": notes,
        "storage_mappings": destination_environment.get("storage_mappings", {}),
        "user_scripts": None,
        "clone_disks": True,
        "skip_os_morphing": False,
    }
    if source_environment:
        body["source_environment"] = source_environment
    return {"transfer": body}


def gui_transfer_create(origin: str, destination: str, instances: list[str], source_environment: dict,
                        destination_environment: dict, network_map: dict, storage_mappings: dict) -> dict:
    """coriolis-web's wizard (``WizardSource.create``): notes ``""``, pool ids only when chosen, scripts only
    when uploaded."""
    return {"transfer": {
        "origin_endpoint_id": origin, "destination_endpoint_id": destination, "network_map": network_map,
        "instances": instances, "storage_mappings": storage_mappings, "notes": "", "skip_os_morphing": False,
        "source_environment": source_environment, "destination_environment": destination_environment,
        "scenario": "replica",
    }}


def execution_create(shutdown_instances: bool = False, auto_deploy: bool = False) -> dict:
    return {"execution": {"shutdown_instances": shutdown_instances, "auto_deploy": auto_deploy}}


def deployment_create(transfer_id: str, force: bool = False) -> dict:
    """``DeploymentManager.create_from_transfer`` with the CLI's defaults (coriolis-web adds the pool mappings
    as ``null``)."""
    return {"deployment": {"transfer_id": transfer_id, "clone_disks": True, "force": force,
                           "skip_os_morphing": False, "user_scripts": None,
                           "instance_osmorphing_minion_pool_mappings": None}}


def schedule_create(minute: int, hour: int | None = None, enabled: bool = True) -> dict:
    """``TransferScheduleManager.create``: cron fields as integers, no expiration date."""
    schedule = {"minute": minute} if hour is None else {"minute": minute, "hour": hour}
    return {"schedule": schedule, "enabled": enabled, "shutdown_instance": False, "auto_deploy": False}


CANCEL = {"cancel": {"force": False}}
DELETE_DISKS = {"delete-disks": None}
VALIDATE = {"validate-connection": None}

# keys the CLI's formatters and the GUI read (TransferDetailFormatter, DeploymentDetailFormatter...)
TRANSFER_KEYS = {
    "id", "created_at", "updated_at", "scenario", "reservation_id", "instances", "notes", "origin_endpoint_id",
    "origin_minion_pool_id", "destination_endpoint_id", "destination_minion_pool_id",
    "instance_osmorphing_minion_pool_mappings", "destination_environment", "source_environment", "network_map",
    "storage_mappings", "user_scripts", "clone_disks", "skip_os_morphing", "executions", "info",
    "last_execution_status",
}
RUN_KEYS = {
    "id", "last_execution_status", "created_at", "updated_at", "instances", "notes", "origin_endpoint_id",
    "origin_minion_pool_id", "destination_endpoint_id", "destination_minion_pool_id",
    "instance_osmorphing_minion_pool_mappings", "destination_environment", "source_environment", "network_map",
    "storage_mappings", "user_scripts", "tasks", "reservation_id", "info",
}
DEPLOYMENT_KEYS = RUN_KEYS | {"transfer_id", "transfer_scenario_type", "shutdown_instances", "transfer_result"}
EXECUTION_KEYS = {"id", "action_id", "status", "created_at", "updated_at", "tasks", "number", "type"}
TASK_KEYS = {"id", "index", "task_type", "instance", "status", "depends_on", "exception_details",
             "progress_updates"}
SCHEDULE_KEYS = {"id", "transfer_id", "schedule", "enabled", "expiration_date", "shutdown_instance",
                 "auto_deploy", "created_at", "updated_at"}
ENDPOINT_KEYS = {"id", "name", "type", "description", "connection_info", "mapped_regions", "created_at",
                 "updated_at"}

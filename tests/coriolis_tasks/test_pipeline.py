"""The stage list as data, the planned dependencies, and the canvas built from them."""

from __future__ import annotations

from celery.canvas import _chain, _chord, group

from coriolis_tasks import pipeline


def test_stages_are_declared_in_order_with_their_queues():
    assert [s.task_type for s in pipeline.STAGES] == [
        "EXPORT_DISK", "CONVERT_DISK", "OS_MORPHING", "IMPORT_INSTANCE", "BOOT_INSTANCE",
        "FINALIZE_INSTANCE_DEPLOYMENT",
    ]
    assert [s.queue for s in pipeline.STAGES] == ["export", "convert", "morph", "import", "boot", "control"]
    assert pipeline.QUEUES == ("export", "convert", "morph", "import", "boot", "control", "plan")


def test_plan_instance_links_each_disk_chain_and_joins_them_at_morph():
    planned = pipeline.plan_instance("vm", ["d0", "d1"], "info")
    by_key = {p.key: p for p in planned}
    assert by_key["vm/export/0"].depends_on == ("info",)
    assert by_key["vm/convert/1"].depends_on == ("vm/export/1",)
    assert by_key["vm/convert/1"].disk_id == "d1"
    assert set(by_key["vm/morph"].depends_on) == {"vm/convert/0", "vm/convert/1"}
    assert by_key["vm/import"].depends_on == ("vm/morph",)
    assert by_key["vm/finalize"].depends_on == ("vm/boot",)
    cleanup = by_key["vm/cleanup"]
    assert cleanup.on_error and cleanup.task_type == pipeline.CLEANUP_TASK
    assert len(planned) == 2 * 2 + 4 + 1


def test_build_makes_a_group_of_instance_chains_with_immutable_id_only_signatures():
    rows = []
    for instance, disks in (("a", ["d0", "d1"]), ("b", ["d0"])):
        for n, p in enumerate(pipeline.plan_instance(instance, disks, "info")):
            rows.append((f"{instance}-{n}", p.task_type, p.disk_id, instance))
    canvas = pipeline.build(rows)
    assert isinstance(canvas, group) and len(canvas.tasks) == 2
    first = canvas.tasks[0]
    # Celery turns "group then tasks" into a chord: the disks' chains, then the instance's chain
    assert isinstance(first, _chord)
    tail = first.body.tasks
    assert [sig.name for sig in tail] == [
        "coriolis.stage.morph", "coriolis.stage.import", "coriolis.stage.boot", "coriolis.stage.finalize",
    ]
    per_disk = first.tasks
    assert len(per_disk) == 2 and all(isinstance(c, _chain) for c in per_disk)
    assert [s.name for s in per_disk[0].tasks] == ["coriolis.stage.export", "coriolis.stage.convert"]
    for sig in [*per_disk[0].tasks, *tail]:
        assert sig.immutable and len(sig.args) == 1 and sig.options["task_id"] == sig.args[0]


def test_routing_sends_each_stage_to_its_queue():
    import celeryconfig

    routes = celeryconfig.task_routes
    prefix = celeryconfig._settings.queue_prefix
    for stage in pipeline.STAGES:
        assert routes[stage.task_name] == {"queue": f"{prefix}{stage.queue}"}
    assert routes["coriolis.control.*"] == {"queue": f"{prefix}control"}
    assert routes["coriolis.control.plan"] == {"queue": f"{prefix}plan"}
    assert celeryconfig.task_acks_late is True and celeryconfig.worker_prefetch_multiplier == 1
    assert celeryconfig.broker_transport_options["visibility_timeout"] >= 3600

"""``GET /metrics``: counts from the database, stage counters and queue depths from Redis, and its cost."""

from __future__ import annotations

import time
import uuid

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, event, insert, text

from coriolis import stage_metrics
from coriolis.database.models import Migration, Task
from coriolis.database.session import get_engine, upgrade
from coriolis.progress import get_redis
from coriolis_api.app import create_app
from tests.conftest import PG_ADMIN_URL, RUN_ID, make_settings


def _scrape(client) -> dict[tuple[str, tuple], float]:
    resp = client.get("/metrics")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(resp.get_data(as_text=True)):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def _add_migrations(url: str, count: int, status: str, tasks_each: int = 0, task_status: str = "ERROR") -> None:
    engine = get_engine(url)
    mids = [str(uuid.uuid4()) for _ in range(count)]
    with engine.begin() as conn:
        conn.execute(insert(Migration), [
            {"id": m, "project_id": "metrics", "user_id": "u", "status": status, "deleted": False} for m in mids
        ])
        if tasks_each:
            conn.execute(insert(Task), [
                {"id": str(uuid.uuid4()), "migration_id": m, "index": n, "instance": "vm", "queue": "export",
                 "task_type": "EXPORT_DISK" if n % 2 else "CONVERT_DISK", "status": task_status}
                for m in mids for n in range(tasks_each)
            ])


def test_migrations_and_tasks_are_counted_from_the_database(settings, client):
    before = _scrape(client)
    _add_migrations(settings.database_url, 3, "ERROR", tasks_each=2)
    after = _scrape(client)
    key = ("coriolis_migrations", (("status", "ERROR"),))
    assert after[key] - before.get(key, 0) == 3
    # every status is present, at zero if need be
    assert {("coriolis_migrations", (("status", s),)) for s in ("PENDING", "RUNNING", "CANCELED")} <= set(after)
    key = ("coriolis_tasks", (("status", "ERROR"), ("task_type", "EXPORT_DISK")))
    assert after[key] - before.get(key, 0) == 3
    assert after[("coriolis_metrics_source_up", (("source", "database"),))] == 1


def test_stage_counters_round_trip_through_redis(settings):
    store = stage_metrics.StageMetrics(get_redis(settings.redis_url), f"t{RUN_ID}-m{uuid.uuid4().hex[:6]}-")
    store.observe("EXPORT_DISK", 100.0, {"size_bytes": 4096}, now=103.0)
    store.observe("EXPORT_DISK", 100.0, {"size_bytes": 1024}, now=200.0)
    store.observe("IMPORT_INSTANCE", 0.0, {"disks": [{"size_bytes": 10}, {"size_bytes": 20}]}, now=0.5)
    store.count_failure("CONVERT_DISK", ValueError("x"))
    snap = store.read()
    assert snap.bytes == {"EXPORT_DISK": 5120, "IMPORT_INSTANCE": 30}
    assert snap.seconds_count["EXPORT_DISK"] == 2 and snap.seconds_sum["EXPORT_DISK"] == pytest.approx(103.0)
    cumulative = dict(snap.cumulative("EXPORT_DISK"))
    assert [cumulative[le] for le in ("1", "5", "60", "120", "+Inf")] == [0, 1, 1, 2, 2]
    assert snap.failures == {("CONVERT_DISK", "ValueError"): 1}
    store.client.delete(store.key)


def test_exposes_stage_counters_and_redis_queue_depths(settings):
    prefix = f"t{RUN_ID}-m{uuid.uuid4().hex[:6]}-"
    app_settings = settings.replace(queue_prefix=prefix)
    store = stage_metrics.for_settings(app_settings)
    store.observe("EXPORT_DISK", 0.0, {"size_bytes": 2048}, now=42.0)
    store.count_failure("BOOT_INSTANCE", TimeoutError())
    broker = get_redis(settings.effective_broker_url)
    broker.rpush(f"{prefix}export", "m1", "m2")
    try:
        samples = _scrape(create_app(app_settings).test_client())
    finally:
        broker.delete(f"{prefix}export", store.key)
    assert samples[("coriolis_bytes_moved_total", (("task_type", "EXPORT_DISK"),))] == 2048
    assert samples[("coriolis_stage_duration_seconds_count", (("task_type", "EXPORT_DISK"),))] == 1
    assert samples[("coriolis_stage_duration_seconds_bucket", (("le", "60.0"), ("task_type", "EXPORT_DISK")))] == 1
    assert samples[("coriolis_stage_duration_seconds_bucket", (("le", "30.0"), ("task_type", "EXPORT_DISK")))] == 0
    assert samples[("coriolis_task_failures_total", (("reason", "TimeoutError"), ("task_type", "BOOT_INSTANCE")))] == 1
    assert samples[("coriolis_queue_depth", (("queue", f"{prefix}export"),))] == 2
    assert samples[("coriolis_queue_depth", (("queue", f"{prefix}convert"),))] == 0
    assert samples[("coriolis_queue_depth_supported", (("transport", "redis"),))] == 1


def test_amqp_broker_queue_depths_are_skipped_with_a_label(settings):
    app = create_app(settings.replace(broker_url="amqp://guest:guest@127.0.0.1:5672//"))
    samples = _scrape(app.test_client())
    assert samples[("coriolis_queue_depth_supported", (("transport", "amqp"),))] == 0
    assert not [k for k in samples if k[0] == "coriolis_queue_depth"]
    assert samples[("coriolis_metrics_source_up", (("source", "broker"),))] == 1


def test_an_unreachable_database_is_reported_not_a_500(settings):
    app = create_app(settings.replace(database_url="postgresql+psycopg://nobody:x@127.0.0.1:1/none"))
    samples = _scrape(app.test_client())
    assert samples[("coriolis_metrics_source_up", (("source", "database"),))] == 0
    assert samples[("coriolis_metrics_source_up", (("source", "redis"),))] == 1


@pytest.fixture(params=["sqlite", "postgresql"])
def big_db(request, tmp_path):
    """A database of its own holding 1,000 migrations and 10,000 tasks."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'metrics.sqlite'}"
    else:
        name = f"coriolis_test_{RUN_ID}_metrics"
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    for status in ("COMPLETED", "ERROR", "RUNNING", "CANCELED"):
        _add_migrations(url, 250, status, tasks_each=10, task_status="COMPLETED")
    yield request.param, url
    get_engine(url).dispose()
    if request.param == "postgresql":
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_scrape_cost_with_a_thousand_migrations(big_db):
    """Printed, not asserted (shared 2-core machine): the time of a scrape and its database queries."""
    kind, url = big_db
    client = create_app(make_settings(url)).test_client()
    statements: list[str] = []
    event.listen(get_engine(url), "before_cursor_execute", lambda *a: statements.append(a[2]))
    client.get("/metrics")  # warm the connection pools
    statements.clear()
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        samples = _scrape(client)
        timings.append((time.perf_counter() - started) * 1000)
    assert samples[("coriolis_migrations", (("status", "ERROR"),))] == 250
    assert samples[("coriolis_tasks", (("status", "COMPLETED"), ("task_type", "EXPORT_DISK")))] == 5000
    print(
        f"\n/metrics on {kind} with 1,000 migrations and 10,000 tasks: {len(statements) // 5} database queries "
        f"per scrape, {min(timings):.1f} ms best, {sorted(timings)[2]:.1f} ms median of 5"
    )

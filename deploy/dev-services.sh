#!/usr/bin/env bash
# Start the services the tests need, PostgreSQL, Redis and RabbitMQ on 127.0.0.1, when they are not
# running (installing them from Debian's packages on a fresh machine), and create the test role.
set -euo pipefail
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
install() {
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
command -v redis-server >/dev/null || install redis-server redis-tools
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || install postgresql postgresql-client
command -v rabbitmq-server >/dev/null || install rabbitmq-server

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  $SUDO mkdir -p /var/lib/redis /var/log/redis
  $SUDO redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
fi
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start || true
fi
for _ in $(seq 1 60); do
  redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p 5432 && break
  sleep 0.5
done
redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null || { echo "Redis did not start" >&2; exit 1; }
pg_isready -q -h 127.0.0.1 -p 5432 || { echo "PostgreSQL did not start" >&2; exit 1; }
# The tests log in as coriolis/coriolis over TCP (works with trust and with password auth).
$SUDO runuser -u postgres -- psql -q -tAc "SELECT 1 FROM pg_roles WHERE rolname='coriolis'" | grep -q 1 ||
  $SUDO runuser -u postgres -- psql -q -c "CREATE ROLE coriolis LOGIN SUPERUSER PASSWORD 'coriolis'"
# RabbitMQ, the alternative broker (tests/coriolis_tasks/test_rabbitmq.py): guest/guest on 127.0.0.1:5672
if ! (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; then
  $SUDO rabbitmq-server -detached
  $SUDO rabbitmqctl -q --timeout 120 await_startup >/dev/null
fi
echo "services: PostgreSQL, Redis and RabbitMQ are up on 127.0.0.1"

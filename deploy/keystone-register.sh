#!/usr/bin/env bash
# Register Coriolis in Keystone (idempotent: safe to run again): the service `coriolis` of type
# `migration`, its public/internal/admin endpoints http://HOST:PORT/v1/%(tenant_id)s in the region,
# and the service user `coriolis` with the admin role in project `service`.
# Uses only curl and python3 against the Keystone v3 REST API. Admin credentials come from the usual
# OS_* variables: OS_AUTH_URL (…/v3), OS_USERNAME, OS_PASSWORD, OS_PROJECT_NAME, OS_USER_DOMAIN_NAME,
# OS_PROJECT_DOMAIN_NAME. Settings: CORIOLIS_HOST (default: this host's name), CORIOLIS_PORT (7667),
# OS_REGION_NAME (RegionOne), CORIOLIS_SERVICE_USER (coriolis), CORIOLIS_SERVICE_PASSWORD (needed
# only when the user does not exist yet; an existing user's password is left alone).
# Passwords travel on stdin, never on a command line.
set -euo pipefail

: "${OS_AUTH_URL:?set OS_AUTH_URL (Keystone v3 URL)}" "${OS_USERNAME:?}" "${OS_PASSWORD:?}" "${OS_PROJECT_NAME:?}"
AUTH_URL=${OS_AUTH_URL%/}
USER_DOMAIN=${OS_USER_DOMAIN_NAME:-Default}
PROJECT_DOMAIN=${OS_PROJECT_DOMAIN_NAME:-Default}
REGION=${OS_REGION_NAME:-RegionOne}
HOST=${CORIOLIS_HOST:-$(hostname -f)}
PORT=${CORIOLIS_PORT:-7667}
SERVICE_USER=${CORIOLIS_SERVICE_USER:-coriolis}
ENDPOINT_URL="http://${HOST}:${PORT}/v1/%(tenant_id)s"

json() {  # json EXPR: evaluate EXPR (Python, `d` is stdin's JSON) and print the result
  python3 -c 'import json, sys; d = json.load(sys.stdin); r = eval(sys.argv[1]); print("" if r is None else r)' "$1"
}

TOKEN=$(
  python3 -c 'import json, os; print(json.dumps({"auth": {"identity": {"methods": ["password"], "password": {"user": {
    "name": os.environ["OS_USERNAME"], "password": os.environ["OS_PASSWORD"],
    "domain": {"name": os.environ.get("OS_USER_DOMAIN_NAME", "Default")}}}},
    "scope": {"project": {"name": os.environ["OS_PROJECT_NAME"],
    "domain": {"name": os.environ.get("OS_PROJECT_DOMAIN_NAME", "Default")}}}}}))' |
  curl -fsS -D - -o /dev/null -H 'Content-Type: application/json' --data @- "$AUTH_URL/auth/tokens" |
  tr -d '\r' | awk -F': ' 'tolower($1) == "x-subject-token" {print $2}'
)
[ -n "$TOKEN" ] || { echo "keystone-register: could not log in to $AUTH_URL as $OS_USERNAME" >&2; exit 1; }

api() {  # api METHOD PATH [BODY on stdin when METHOD is POST/PATCH]
  local method=$1 path=$2
  if [ "$method" = POST ] || [ "$method" = PATCH ]; then
    curl -fsS -X "$method" -H "X-Auth-Token: $TOKEN" -H 'Content-Type: application/json' --data @- "$AUTH_URL$path"
  else
    curl -fsS -X "$method" -H "X-Auth-Token: $TOKEN" "$AUTH_URL$path"
  fi
}

# the service
SERVICE_ID=$(api GET "/services?type=migration" | json 'next((s["id"] for s in d["services"] if s["name"] == "coriolis"), None)')
if [ -z "$SERVICE_ID" ]; then
  SERVICE_ID=$(echo '{"service": {"name": "coriolis", "type": "migration", "description": "Cloud Migration as a Service"}}' |
    api POST /services | json 'd["service"]["id"]')
  echo "created service coriolis ($SERVICE_ID)"
fi

# one endpoint per interface, corrected when its URL differs
for interface in public internal admin; do
  existing=$(api GET "/endpoints?service_id=$SERVICE_ID&interface=$interface" |
    json "next((e['id'] + ' ' + e['url'] for e in d['endpoints'] if e.get('region_id') == '$REGION'), None)")
  body=$(python3 -c 'import json, sys; print(json.dumps({"endpoint": {"service_id": sys.argv[1], "interface": sys.argv[2],
    "url": sys.argv[3], "region_id": sys.argv[4]}}))' "$SERVICE_ID" "$interface" "$ENDPOINT_URL" "$REGION")
  if [ -z "$existing" ]; then
    echo "$body" | api POST /endpoints >/dev/null
    echo "created $interface endpoint $ENDPOINT_URL"
  elif [ "${existing#* }" != "$ENDPOINT_URL" ]; then
    echo "$body" | api PATCH "/endpoints/${existing%% *}" >/dev/null
    echo "updated $interface endpoint to $ENDPOINT_URL"
  fi
done

# the service user, admin in project service
DOMAIN_ID=$(api GET "/domains?name=$USER_DOMAIN" | json 'd["domains"][0]["id"]')
PROJECT_DOMAIN_ID=$(api GET "/domains?name=$PROJECT_DOMAIN" | json 'd["domains"][0]["id"]')
PROJECT_ID=$(api GET "/projects?name=service&domain_id=$PROJECT_DOMAIN_ID" | json 'next((p["id"] for p in d["projects"]), None)')
if [ -z "$PROJECT_ID" ]; then
  PROJECT_ID=$(python3 -c 'import json, sys; print(json.dumps({"project": {"name": "service", "domain_id": sys.argv[1]}}))' \
    "$PROJECT_DOMAIN_ID" | api POST /projects | json 'd["project"]["id"]')
  echo "created project service ($PROJECT_ID)"
fi
USER_ID=$(api GET "/users?name=$SERVICE_USER&domain_id=$DOMAIN_ID" | json 'next((u["id"] for u in d["users"]), None)')
if [ -z "$USER_ID" ]; then
  : "${CORIOLIS_SERVICE_PASSWORD:?set CORIOLIS_SERVICE_PASSWORD to create the user $SERVICE_USER}"
  USER_ID=$(python3 -c 'import json, os, sys; print(json.dumps({"user": {"name": sys.argv[1], "domain_id": sys.argv[2],
    "default_project_id": sys.argv[3], "password": os.environ["CORIOLIS_SERVICE_PASSWORD"]}}))' \
    "$SERVICE_USER" "$DOMAIN_ID" "$PROJECT_ID" | api POST /users | json 'd["user"]["id"]')
  echo "created user $SERVICE_USER ($USER_ID)"
fi
ROLE_ID=$(api GET "/roles?name=admin" | json 'd["roles"][0]["id"]')
api PUT "/projects/$PROJECT_ID/users/$USER_ID/roles/$ROLE_ID" >/dev/null  # idempotent in Keystone
echo "coriolis is registered: $ENDPOINT_URL (region $REGION), user $SERVICE_USER is admin in project service"

#!/bin/sh
# One-shot (service temporal-create-namespace): wait until the Temporal frontend serves, create
# the OMS namespace if it does not exist, and wait until the frontend knows it (the OMS
# `prepare` step registers the search attributes on it next). Safe on every start.
set -eu
: "${TEMPORAL_ADDRESS:?}" "${NAMESPACE:?}" "${NAMESPACE_RETENTION:?}"

# Use the frontend's IPv4 address (as Temporal's own compose samples do: avoids gRPC name
# resolution surprises in small images); fall back to the name.
HOST=${TEMPORAL_ADDRESS%:*}
PORT=${TEMPORAL_ADDRESS##*:}
IP=$(getent ahosts "${HOST}" 2>/dev/null \
  | awk '$2 == "STREAM" && $1 ~ /^[0-9.]+$/ { print $1; exit }') || true
ADDRESS="${IP:-${HOST}}:${PORT}"

tries=0
until temporal operator cluster health --address "${ADDRESS}" >/dev/null 2>&1; do
  tries=$((tries + 1))
  if [ "${tries}" -ge 90 ]; then echo "Temporal at ${ADDRESS} is not serving" >&2; exit 1; fi
  sleep 2
done

if temporal operator namespace describe --namespace "${NAMESPACE}" --address "${ADDRESS}" \
    >/dev/null 2>&1; then
  echo "namespace ${NAMESPACE} exists"
else
  temporal operator namespace create --namespace "${NAMESPACE}" \
    --retention "${NAMESPACE_RETENTION}" --address "${ADDRESS}"
  echo "namespace ${NAMESPACE} created (retention ${NAMESPACE_RETENTION})"
fi

# A new namespace reaches the frontend's cache within seconds; search attributes need it there.
tries=0
until temporal operator search-attribute list --namespace "${NAMESPACE}" --address "${ADDRESS}" \
    >/dev/null 2>&1; do
  tries=$((tries + 1))
  if [ "${tries}" -ge 60 ]; then echo "namespace ${NAMESPACE} not usable" >&2; exit 1; fi
  sleep 1
done
echo "namespace ${NAMESPACE} ready"

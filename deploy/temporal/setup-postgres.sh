#!/bin/sh
# One-shot (service temporal-admin-tools): create Temporal's two PostgreSQL databases and bring
# their schemas to the version of this admin-tools image, which must be the server's version.
# Connection from the environment: SQL_PLUGIN, SQL_HOST, SQL_PORT, SQL_USER, SQL_PASSWORD.
# Safe on every start: `create` skips an existing database, `setup-schema -v 0.0` keeps a newer
# version, `update-schema` only moves forward (so bumping the image version upgrades the schema).
set -eu
: "${SQL_HOST:?}" "${SQL_USER:?}" "${SQL_PASSWORD:?}" "${DBNAME:?}" "${VISIBILITY_DBNAME:?}"
SCHEMA_DIR=/etc/temporal/schema/postgresql/v12

echo "temporal schema setup: ${DBNAME} and ${VISIBILITY_DBNAME} on ${SQL_HOST}"
temporal-sql-tool --db "${DBNAME}" create
temporal-sql-tool --db "${DBNAME}" setup-schema -v 0.0
temporal-sql-tool --db "${DBNAME}" update-schema -d "${SCHEMA_DIR}/temporal/versioned"

temporal-sql-tool --db "${VISIBILITY_DBNAME}" create
temporal-sql-tool --db "${VISIBILITY_DBNAME}" setup-schema -v 0.0
temporal-sql-tool --db "${VISIBILITY_DBNAME}" update-schema -d "${SCHEMA_DIR}/visibility/versioned"
echo "temporal schema setup complete"

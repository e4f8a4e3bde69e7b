#!/bin/sh
# First start of the PostgreSQL container: one login role and one database per Tandem service, each
# database reachable only by its own role (services never share a database). Passwords come from
# secret files; psql variables quote them, so nothing is interpolated into SQL by the shell.
set -eu

# Overridable for tests only: where the secret files are, and a prefix for role and database names.
secrets_dir="${TANDEM_SECRETS_DIR:-/run/secrets}"
prefix="${TANDEM_DB_PREFIX:-}"

for svc in gateway sessions records reports; do
  password_file="$secrets_dir/pg_${svc}_password"
  if [ ! -s "$password_file" ]; then
    echo "init-databases: missing secret $password_file" >&2
    exit 1
  fi
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    --set=svc="$prefix$svc" --set=pw="$(tr -d '\r\n' < "$password_file")" <<'SQL'
CREATE ROLE :"svc" LOGIN PASSWORD :'pw';
CREATE DATABASE :"svc" OWNER :"svc";
REVOKE ALL ON DATABASE :"svc" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"svc" TO :"svc";
SQL
done

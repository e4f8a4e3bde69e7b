#!/bin/sh
# Start coturn with the TURN REST-API shared secret (use-auth-secret): the sessions service mints
# time-limited credentials with the same secret (SESSIONS_TURN_SECRET_FILE). The secret is read from
# its file into a config on the tmpfs, so it never appears on a command line or in the image.
set -eu
umask 077
conf=/tmp/turnserver.conf
cp /tandem/turnserver.conf "$conf"
printf 'static-auth-secret=%s\n' "$(tr -d '\r\n' < /run/secrets/turn_secret)" >> "$conf"
printf 'realm=%s\n' "${TURN_REALM:-tandem.local}" >> "$conf"
printf 'min-port=%s\nmax-port=%s\n' "${TURN_MIN_PORT:-49160}" "${TURN_MAX_PORT:-49200}" >> "$conf"
if [ -n "${TURN_EXTERNAL_IP:-}" ]; then
  printf 'external-ip=%s\n' "$TURN_EXTERNAL_IP" >> "$conf"
fi
exec turnserver -c "$conf"

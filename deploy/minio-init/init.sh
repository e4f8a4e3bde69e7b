#!/bin/sh
# One-shot MinIO set-up for Tandem (compose service `minio-init`; also usable by hand with `mc`).
# Idempotent: run it again after an upgrade or to repair drifted settings.
#  - buckets with object lock (which also turns versioning on), versioning re-asserted;
#  - lifecycle backstop: a deleted object's old versions and orphan delete markers go after
#    TANDEM_NONCURRENT_DAYS, so crypto-shredded objects do not linger as noncurrent versions;
#    records may add its own age-based rule (RECORDS_LIFECYCLE_BACKSTOP_DAYS);
#  - one S3 user per service limited to its own bucket(s), without governance bypass.
set -eu

secret() { tr -d '\r\n' < "/run/secrets/$1"; }

MINIO_URL="${MINIO_URL:-http://minio:9000}"
NONCURRENT_DAYS="${TANDEM_NONCURRENT_DAYS:-7}"

mc alias set tandem "$MINIO_URL" "$(secret minio_root_user)" "$(secret minio_root_password)" >/dev/null

for bucket in tandem-records tandem-audit tandem-reports; do
  mc mb --ignore-existing --with-lock "tandem/$bucket"
  mc version enable "tandem/$bucket"
  # Replace our rules rather than stacking duplicates on every run.
  mc ilm rule rm --all --force "tandem/$bucket" >/dev/null 2>&1 || true
  mc ilm rule add --noncurrent-expire-days "$NONCURRENT_DAYS" "tandem/$bucket"
  mc ilm rule add --expire-delete-marker "tandem/$bucket"
done

policy_file=/tmp/policy.json
grant() {  # grant SERVICE ACCESS_KEY SECRET_KEY BUCKET...
  service="$1"; access="$2"; secret_key="$3"; shift 3
  resources=""
  for bucket in "$@"; do
    resources="$resources\"arn:aws:s3:::$bucket\",\"arn:aws:s3:::$bucket/*\","
  done
  resources="${resources%,}"
  cat > "$policy_file" <<JSON
{
  "Version": "2012-10-17",
  "Statement": [{
    "Effect": "Allow",
    "Action": [
      "s3:ListBucket", "s3:GetBucketLocation", "s3:GetBucketObjectLockConfiguration",
      "s3:GetBucketVersioning", "s3:GetLifecycleConfiguration", "s3:PutLifecycleConfiguration",
      "s3:ListBucketMultipartUploads", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload",
      "s3:GetObject", "s3:PutObject", "s3:DeleteObject",
      "s3:GetObjectRetention", "s3:PutObjectRetention",
      "s3:GetObjectLegalHold", "s3:PutObjectLegalHold"
    ],
    "Resource": [$resources]
  }]
}
JSON
  mc admin user add tandem "$access" "$secret_key" >/dev/null
  mc admin policy create tandem "tandem-$service" "$policy_file" >/dev/null
  mc admin policy attach tandem "tandem-$service" --user "$access" >/dev/null 2>&1 || true
  echo "minio-init: user for $service limited to: $*"
}

grant records "$(secret records_s3_access_key)" "$(secret records_s3_secret_key)" tandem-records tandem-audit
grant reports "$(secret reports_s3_access_key)" "$(secret reports_s3_secret_key)" tandem-reports
rm -f "$policy_file"
echo "minio-init: done"

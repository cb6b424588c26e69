#!/usr/bin/env bash
# Promotes one commit to production: sets the tag of every framepipe image in the prod overlay to SHA (the
# tag build-push.yml pushed and signed). build-push.yml opens a pull request with the result; merging it is
# the release, and reverting it the rollback.
# Usage: deploy/scripts/promote.sh SHA   (a full 40-character commit SHA)
set -euo pipefail

SHA=${1:-}
if [[ ! $SHA =~ ^[0-9a-f]{40}$ ]]; then
  echo "usage: $0 SHA (a full 40-character lowercase commit SHA)" >&2
  exit 2
fi
OVERLAY=$(cd "$(dirname "${BASH_SOURCE[0]}")/../k8s/overlays/prod" && pwd)/kustomization.yaml

# Every `newTag:` of a framepipe image in the images: list, and nothing else.
sed -i -E "/^  - name: framepipe\//,/newTag:/ s/^(    newTag: )[0-9a-f]{40}$/\1${SHA}/" "$OVERLAY"
images=$(grep -cE "^  - name: framepipe/" "$OVERLAY" || true)
count=$(grep -cE "^    newTag: ${SHA}$" "$OVERLAY" || true)
if [[ $images == 0 || $count != "$images" ]]; then
  echo "expected all $images framepipe images at ${SHA} in $OVERLAY, found $count" >&2
  exit 1
fi
echo "prod overlay: $images images at ${SHA}"

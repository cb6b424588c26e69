#!/usr/bin/env bash
# Creates the JWT key pair of the dev overlay as the Secrets jwt-signing-key and jwt-public-keys in
# video-system. Keys are made on the spot with openssl and never written into the repository.
# Idempotent: keeps existing Secrets unless called with --rotate.
# Usage: deploy/scripts/dev-jwt-keys.sh [--rotate]   (kubectl pointed at the dev cluster)
set -euo pipefail

NAMESPACE=video-system
KID=dev-1

if [[ ${1:-} != --rotate ]] && kubectl -n "$NAMESPACE" get secret jwt-signing-key >/dev/null 2>&1; then
  echo "jwt-signing-key exists in $NAMESPACE; use --rotate to replace it"
  exit 0
fi

keys=$(mktemp -d)
trap 'rm -rf "$keys"' EXIT
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$keys/private.pem" 2>/dev/null
openssl pkey -in "$keys/private.pem" -pubout -out "$keys/$KID.pem"

kubectl create namespace "$NAMESPACE" --dry-run=client -o yaml | kubectl apply -f -
kubectl -n "$NAMESPACE" create secret generic jwt-signing-key --from-file=private.pem="$keys/private.pem" \
  --dry-run=client -o yaml | kubectl apply -f -
kubectl -n "$NAMESPACE" create secret generic jwt-public-keys --from-file="$KID.pem=$keys/$KID.pem" \
  --dry-run=client -o yaml | kubectl apply -f -
echo "JWT key pair $KID stored in $NAMESPACE"

#!/usr/bin/env bash
# Make a private CA and the X.509 certificates an Ember site needs (openssl only):
#   OUT/ca.crt, OUT/ca.key                 the CA (keep ca.key offline)
#   OUT/broker.crt, OUT/broker.key         Mosquitto's server certificate
#   OUT/cores/ID.crt, OUT/cores/ID.key     one client certificate per core  (CN = core id)
#   OUT/nodes/ID.crt, OUT/nodes/ID.key     one client certificate per node  (CN = node id)
# Mosquitto with `use_identity_as_username true` takes the CN as the MQTT username, so the ACL
# patterns (%u) confine every node to its own topics.
#
# Usage: tools/make_certs.sh OUT_DIR [--core ID]... [--node ID]... [--broker-host NAME]...
#                            [--days N]
#   Defaults: one core "core-1", no nodes, broker host names localhost and 127.0.0.1, 825 days.
#   Running again with the same OUT_DIR reuses the CA and adds/overwrites the named certificates.
# Example: tools/make_certs.sh /etc/mosquitto/ember --core core-1 --node node-01 --node node-02 \
#              --broker-host gateway.local
set -euo pipefail

usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
[ $# -ge 1 ] || usage 2
case "$1" in -h|--help) usage 0 ;; esac
OUT=$1; shift
CORES=(); NODES=(); HOSTS=(); DAYS=825
while [ $# -gt 0 ]; do
  case "$1" in
    --core) CORES+=("$2"); shift 2 ;;
    --node) NODES+=("$2"); shift 2 ;;
    --broker-host) HOSTS+=("$2"); shift 2 ;;
    --days) DAYS=$2; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "make_certs.sh: unknown argument $1" >&2; usage 2 ;;
  esac
done
[ ${#CORES[@]} -gt 0 ] || CORES=(core-1)
[ ${#HOSTS[@]} -gt 0 ] || HOSTS=(localhost 127.0.0.1)
command -v openssl >/dev/null || { echo "make_certs.sh: openssl not found" >&2; exit 1; }

valid_id() {  # ids become MQTT usernames and topic levels: no wildcards, slashes or spaces
  [[ "$1" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$ ]] || { echo "make_certs.sh: invalid id '$1'" >&2; exit 2; }
}
for id in "${CORES[@]}" "${NODES[@]}"; do valid_id "$id"; done

umask 077
mkdir -p "$OUT/cores" "$OUT/nodes"
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT

newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

if [ ! -f "$OUT/ca.key" ]; then
  newkey "$OUT/ca.key"
  openssl req -x509 -new -key "$OUT/ca.key" -sha256 -days "$((DAYS * 4))" -subj "/CN=Ember CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$OUT/ca.crt"
fi

# sign NAME KEYFILE CRTFILE EXTFILE
sign() {
  openssl req -new -key "$2" -subj "/CN=$1" -out "$TMP/req.csr"
  openssl x509 -req -in "$TMP/req.csr" -CA "$OUT/ca.crt" -CAkey "$OUT/ca.key" -CAcreateserial \
    -CAserial "$TMP/ca.srl" -days "$DAYS" -sha256 -extfile "$4" -out "$3" 2>/dev/null
}

san=""
for h in "${HOSTS[@]}"; do
  if [[ "$h" =~ ^[0-9.]+$ || "$h" == *:* ]]; then san+="IP:$h,"; else san+="DNS:$h,"; fi
done
cat > "$TMP/server.ext" <<EOF
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=${san%,}
EOF
cat > "$TMP/client.ext" <<EOF
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth
EOF

newkey "$OUT/broker.key"
sign "${HOSTS[0]}" "$OUT/broker.key" "$OUT/broker.crt" "$TMP/server.ext"
for id in "${CORES[@]}"; do
  newkey "$OUT/cores/$id.key"; sign "$id" "$OUT/cores/$id.key" "$OUT/cores/$id.crt" "$TMP/client.ext"
done
for id in "${NODES[@]}"; do
  newkey "$OUT/nodes/$id.key"; sign "$id" "$OUT/nodes/$id.key" "$OUT/nodes/$id.crt" "$TMP/client.ext"
done
chmod 644 "$OUT/ca.crt" "$OUT/broker.crt" "$OUT"/cores/*.crt
[ ${#NODES[@]} -eq 0 ] || chmod 644 "$OUT"/nodes/*.crt
echo "certificates in $OUT: CA, broker (${HOSTS[*]}), cores: ${CORES[*]}, nodes: ${NODES[*]:-none}"

#!/bin/sh
# Runs from the nginx image's /docker-entrypoint.d before nginx starts: writes
# /demo-users.json beside the demo page, one token per demo user signed with JWT_SECRET,
# exactly the list scripts/dev.sh writes. The tokens live DEMO_TOKEN_TTL_SECS (default a
# week, so a stack left running keeps working); restarting the container mints new ones.
set -eu

ttl="${DEMO_TOKEN_TTL_SECS:-604800}"
out=/usr/share/nginx/html/demo-users.json
tmp="$out.tmp"

printf '[' >"$tmp"
sep=''
for entry in alice:applicant bob:applicant lena:lawyer marc:lawyer; do
  name=${entry%%:*}
  role=${entry#*:}
  id=$(switchboard token --user "$name" --print-id)
  token=$(switchboard token --user "$name" --ttl "$ttl")
  printf '%s{"id":"%s","name":"%s","role":"%s","token":"%s"}' "$sep" "$id" "$name" "$role" "$token" >>"$tmp"
  sep=','
done
printf ']\n' >>"$tmp"
mv "$tmp" "$out"
echo "demo-users.sh: tokens for alice, bob, lena and marc written to $out"

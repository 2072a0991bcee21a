#!/usr/bin/env bash
# Starts Mia locally with wrangler dev on http://localhost:${PORT:-3001}.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$MIA_ROOT"
bash scripts/setup.sh
if [ ! -f .dev.vars ]; then
  # A local secret so tokens work out of the box; never used in production.
  secret="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  sed "s/^JWT_SECRET=.*/JWT_SECRET=$secret/" .env.example | grep -v '^OPENAI_API_KEY=$' > .dev.vars
  echo "[dev] wrote .dev.vars with a random local JWT_SECRET; add OPENAI_API_KEY there to use OpenAI" >&2
fi
# wrangler.toml says production; local runs are development unless .dev.vars says otherwise.
if ! grep -q '^NODE_ENV=' .dev.vars; then
  echo "NODE_ENV=development" >> .dev.vars
  echo "[dev] added NODE_ENV=development to .dev.vars (wrangler.toml deploys as production)" >&2
fi
port="${PORT:-$(sed -n 's/^PORT=//p' .dev.vars | head -n1)}"
exec wrangler dev --ip 127.0.0.1 --port "${port:-3001}" --show-interactive-dev-session=false "$@"

# Sourced by scripts/test: makes sure the tests find a PostgreSQL server with a database
# `test` they may create databases beside, and exports BUILDWIRE_TEST_POSTGRES.
# When neither BUILDWIRE_TEST_POSTGRES nor 127.0.0.1:5432 answers, starts a throwaway
# server from Debian's binaries in a temporary folder (trust auth, loopback only, a free
# port; under /tmp so the `postgres` user can reach it when we run as root).

pg_dir=""
# The server tried when BUILDWIRE_TEST_POSTGRES is unset (the local one).
pg_default="postgres://postgres@127.0.0.1:5432"

pg_bin() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

# Runs a PostgreSQL command as the `postgres` user when we are root (initdb refuses root).
pg_as() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

pg_answers() {
  "$(pg_bin)/pg_isready" -q -d "$1/test" -t 3 >/dev/null 2>&1
}

test_postgres_start() {
  local url="${BUILDWIRE_TEST_POSTGRES:-${pg_default:-postgres://postgres@127.0.0.1:5432}}"
  local bin
  bin="$(pg_bin)"
  [ -n "$bin" ] || { echo "test: PostgreSQL server binaries are missing (scripts/setup --system-packages installs them)" >&2; exit 1; }
  if pg_answers "$url"; then
    export BUILDWIRE_TEST_POSTGRES="$url"
    echo "test: PostgreSQL at $url"
    return
  fi
  if [ -n "${BUILDWIRE_TEST_POSTGRES:-}" ]; then
    echo "test: BUILDWIRE_TEST_POSTGRES=$url does not answer (or has no database test)" >&2
    exit 1
  fi
  local port
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  pg_dir="$(mktemp -d "${TMPDIR:-/tmp}/buildwire-test-pg.XXXXXX")"
  [ "$(id -u)" -ne 0 ] || chown postgres: "$pg_dir"
  echo "test: no PostgreSQL at $url; starting one in $pg_dir on port $port"
  pg_as "$bin/initdb" -A trust -U postgres --no-sync -D "$pg_dir/data" >"$pg_dir/initdb.log" 2>&1 \
    || { cat "$pg_dir/initdb.log" >&2; exit 1; }
  pg_as "$bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $pg_dir -c fsync=off -c max_connections=300" start >/dev/null \
    || { cat "$pg_dir/server.log" >&2; exit 1; }
  url="postgres://postgres@127.0.0.1:$port"
  "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres test
  export BUILDWIRE_TEST_POSTGRES="$url"
}

test_postgres_stop() {
  [ -n "$pg_dir" ] || return 0
  pg_as "$(pg_bin)/pg_ctl" -D "$pg_dir/data" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$pg_dir"
}

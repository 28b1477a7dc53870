#!/usr/bin/env bash
# The full-mode backing services, natively on loopback, without Docker or systemd:
# MariaDB (MySQL protocol), Redis and a single-node Apache Kafka (KRaft, broker+controller).
#
#   scripts/services.sh up       install what is missing, start what is not answering, wait
#   scripts/services.sh down     stop all three (whoever started them: the ports are shared)
#   scripts/services.sh status   one line per service; exit 1 if any is down
#   (up, down and status take service names to act on some only: mariadb redis kafka)
#   scripts/services.sh env      `export SHOP_...` lines for the running services:
#                                eval "$(scripts/services.sh env)"
#   scripts/services.sh kafka-run CLASS [ARGS...]
#                                run a Kafka tool on the broker's classpath, e.g.
#                                kafka-run org.apache.kafka.tools.TopicCommand \
#                                  --bootstrap-server 127.0.0.1:9092 --list
#
# `up` is safe to run twice: a service that already answers on its port is left alone
# (whoever started it). Debian packages come from apt (mariadb-server, redis-server; Java and
# Maven if missing); the Kafka jars come from Maven Central through Maven (its local
# repository ~/.m2 is shared by every checkout) and are copied once into .cache/, so a
# second `up` downloads nothing.
#
# Environment (defaults in brackets):
#   SHOP_MYSQL_PORT [3306]  SHOP_REDIS_PORT [6379]  SHOP_KAFKA_PORT [9092]
#   SHOP_KAFKA_CONTROLLER_PORT [9093]  SHOP_KAFKA_VERSION [4.1.2]  SHOP_KAFKA_HEAP [1g]
#   SHOP_SERVICES_TIMEOUT [90] seconds to wait for each service
#   SHOP_SERVICES_CACHE [<repo>/.cache] jars, Kafka data, logs and pidfiles
# MariaDB keeps Debian's data directory (/var/lib/mysql) and socket (/run/mysqld); the user
# shop/shop (from 127.0.0.1 and localhost) has every privilege, so tests can create databases.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${SHOP_SERVICES_CACHE:-$ROOT/.cache}"
RUN_DIR="$CACHE/run"
LOG_DIR="$CACHE/logs"

MYSQL_PORT="${SHOP_MYSQL_PORT:-3306}"
REDIS_PORT="${SHOP_REDIS_PORT:-6379}"
KAFKA_PORT="${SHOP_KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${SHOP_KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_VERSION="${SHOP_KAFKA_VERSION:-4.1.2}"
KAFKA_HEAP="${SHOP_KAFKA_HEAP:-1g}"
TIMEOUT="${SHOP_SERVICES_TIMEOUT:-90}"

KAFKA_HOME="$CACHE/kafka-$KAFKA_VERSION"
KAFKA_LIBS="$KAFKA_HOME/libs"
KAFKA_CONF="$CACHE/kafka-conf"
KAFKA_DATA="$CACHE/kafka-data"
# base64url of the 16 bytes "shop-local-kafka": a fixed cluster id, so a re-format is stable.
KAFKA_CLUSTER_ID="c2hvcC1sb2NhbC1rYWZrYQ"

MARIADB_PID="$RUN_DIR/mariadb.pid"
REDIS_PID="$RUN_DIR/redis.pid"
KAFKA_PID="$RUN_DIR/kafka.pid"
MARIADB_LOG="$LOG_DIR/mariadb.log"
REDIS_LOG="$LOG_DIR/redis.log"
KAFKA_LOG="$LOG_DIR/kafka.log"

export DEBIAN_FRONTEND=noninteractive

log() { printf '[services] %s\n' "$*" >&2; }
die() { printf '[services] error: %s\n' "$*" >&2; exit 1; }

for port_var in MYSQL_PORT REDIS_PORT KAFKA_PORT KAFKA_CONTROLLER_PORT; do
  [[ "${!port_var}" =~ ^[0-9]+$ ]] || die "SHOP_$port_var must be a port number, got '${!port_var}'"
done
[[ "$TIMEOUT" =~ ^[0-9]+$ ]] || die "SHOP_SERVICES_TIMEOUT must be a number of seconds, got '$TIMEOUT'"

# --- helpers ---------------------------------------------------------------------------

tcp_open() { # host port: true if something accepts a TCP connection
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

pid_alive() { # pidfile [cmdline-substring]
  local pid
  [[ -s "$1" ]] || return 1
  pid="$(cat "$1")"
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  if [[ -n "${2:-}" ]]; then
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$2" || return 1
  fi
}

LOG_OFFSET=0 # byte offset where the current start attempt began writing its log

show_log_tail() { # file [byte-offset]: the errors and the last lines written from there on
  [[ -f "$1" ]] || return 0
  local errors from=$((${2:-0} + 1))
  errors="$(tail -c +"$from" "$1" | grep -E '\b(ERROR|FATAL|Caused by)\b|\[ERROR\]' | head -n 12 || true)"
  if [[ -n "$errors" ]]; then
    printf '[services] ---- errors in %s ----\n%s\n' "$1" "$errors" >&2
  fi
  printf '[services] ---- last lines of %s ----\n' "$1" >&2
  tail -c +"$from" "$1" | tail -n 25 | cut -c1-400 >&2 || true
  printf '[services] ----\n' >&2
}

mark_log() { # file: later errors are shown from here on
  LOG_OFFSET=0
  if [[ -f "$1" ]]; then LOG_OFFSET="$(stat -c %s "$1")"; fi
}

wait_for() { # name logfile pidfile-or-empty check-command...
  local name="$1" logfile="$2" pidfile="$3"
  shift 3
  local deadline=$((SECONDS + TIMEOUT))
  until "$@"; do
    if [[ -n "$pidfile" ]] && ! pid_alive "$pidfile"; then
      show_log_tail "$logfile" "$LOG_OFFSET"
      die "$name exited during start-up (log: $logfile)"
    fi
    if ((SECONDS >= deadline)); then
      show_log_tail "$logfile" "$LOG_OFFSET"
      die "$name did not answer within ${TIMEOUT}s (log: $logfile)"
    fi
    sleep 0.3
  done
}

rotate_log() { # keep one previous log when it grows past 50 MB
  if [[ -f "$1" ]] && (($(stat -c %s "$1") > 50 * 1024 * 1024)); then
    mv -f "$1" "$1.1"
  fi
}

apt_install() { # packages...: install, running apt-get update only if needed
  log "apt-get install $*"
  if ! apt-get install -y --no-install-recommends "$@" >"$LOG_DIR/apt.log" 2>&1; then
    log "install failed; apt-get update and retry"
    apt-get update >>"$LOG_DIR/apt.log" 2>&1 || { show_log_tail "$LOG_DIR/apt.log"; die "apt-get update failed"; }
    apt-get install -y --no-install-recommends "$@" >>"$LOG_DIR/apt.log" 2>&1 ||
      { show_log_tail "$LOG_DIR/apt.log"; die "apt-get install $* failed"; }
  fi
}

ensure_packages() { # for the selected services
  local pkgs=()
  if selected mariadb; then
    [[ -x /usr/sbin/mariadbd ]] || pkgs+=(mariadb-server)
    command -v mariadb >/dev/null 2>&1 && command -v mariadb-admin >/dev/null 2>&1 || pkgs+=(mariadb-client)
  fi
  if selected redis; then
    command -v redis-server >/dev/null 2>&1 || pkgs+=(redis-server)
    command -v redis-cli >/dev/null 2>&1 || pkgs+=(redis-tools)
  fi
  if selected kafka; then
    command -v java >/dev/null 2>&1 || pkgs+=(openjdk-17-jre-headless)
    if [[ ! -f "$KAFKA_LIBS/.complete" ]] && ! command -v mvn >/dev/null 2>&1; then pkgs+=(maven); fi
  fi
  if ((${#pkgs[@]})); then apt_install "${pkgs[@]}"; fi
}

# --- MariaDB ---------------------------------------------------------------------------

mysql_as_root() { mariadb --protocol=socket -uroot; }

mariadb_answers() {
  # ping succeeds even when the login is refused; logging in as shop keeps the server's
  # log free of "Access denied" lines once that user exists.
  mariadb-admin --protocol=tcp -h127.0.0.1 -P"$MYSQL_PORT" -ushop -pshop --connect-timeout=2 ping >/dev/null 2>&1
}

mariadb_shop_login() {
  mariadb --protocol=tcp -h127.0.0.1 -P"$MYSQL_PORT" -ushop -pshop --connect-timeout=2 \
    -e 'SELECT 1' >/dev/null 2>&1
}

mariadb_up() {
  if mariadb_answers; then
    log "mariadb already answers on 127.0.0.1:$MYSQL_PORT"
  else
    mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
    if [[ ! -d /var/lib/mysql/mysql ]]; then
      log "mariadb: initialising /var/lib/mysql"
      mariadb-install-db --user=mysql --datadir=/var/lib/mysql --skip-test-db >"$LOG_DIR/mariadb-install.log" 2>&1 ||
        { show_log_tail "$LOG_DIR/mariadb-install.log"; die "mariadb-install-db failed"; }
    fi
    rotate_log "$MARIADB_LOG"
    touch "$MARIADB_LOG" && chown mysql:mysql "$MARIADB_LOG"
    mark_log "$MARIADB_LOG"
    log "mariadb: starting on 127.0.0.1:$MYSQL_PORT"
    start-stop-daemon --start --background --make-pidfile --pidfile "$MARIADB_PID" \
      --exec /usr/sbin/mariadbd -- --user=mysql --bind-address=127.0.0.1 --port="$MYSQL_PORT" \
      --log-error="$MARIADB_LOG" --max-connections=1000 9>&- ||
      die "start-stop-daemon could not start mariadbd"
    wait_for mariadb "$MARIADB_LOG" "$MARIADB_PID" mariadb_answers
  fi
  if ! mariadb_shop_login || ! mariadb_shop_login_has_grants; then
    log "mariadb: creating user shop"
    mysql_as_root <<'SQL' || die "could not create the MariaDB user shop (root socket login failed?)"
CREATE USER IF NOT EXISTS 'shop'@'127.0.0.1' IDENTIFIED BY 'shop';
CREATE USER IF NOT EXISTS 'shop'@'localhost' IDENTIFIED BY 'shop';
ALTER USER 'shop'@'127.0.0.1' IDENTIFIED BY 'shop';
ALTER USER 'shop'@'localhost' IDENTIFIED BY 'shop';
GRANT ALL PRIVILEGES ON *.* TO 'shop'@'127.0.0.1';
GRANT ALL PRIVILEGES ON *.* TO 'shop'@'localhost';
FLUSH PRIVILEGES;
SQL
  fi
  mariadb --protocol=tcp -h127.0.0.1 -P"$MYSQL_PORT" -ushop -pshop \
    -e 'CREATE DATABASE IF NOT EXISTS shop' >/dev/null 2>&1 ||
    die "user shop cannot log in to MariaDB on 127.0.0.1:$MYSQL_PORT"
}

mariadb_shop_login_has_grants() {
  mariadb --protocol=tcp -h127.0.0.1 -P"$MYSQL_PORT" -ushop -pshop -N \
    -e 'SHOW GRANTS' 2>/dev/null | grep -q 'ALL PRIVILEGES ON \*\.\*'
}

mariadb_down() {
  if pid_alive "$MARIADB_PID" mariadbd; then
    log "mariadb: stopping (pid $(cat "$MARIADB_PID"))"
    start-stop-daemon --stop --quiet --pidfile "$MARIADB_PID" --retry TERM/60/KILL/5 || true
  elif mariadb_answers; then
    # Started some other way (another checkout, a package script): ask it to shut down.
    log "mariadb: shutting down the server on port $MYSQL_PORT (not started from this checkout)"
    mariadb-admin --protocol=socket -uroot shutdown 2>/dev/null ||
      log "mariadb: could not shut it down (no root socket access); left running"
  fi
  rm -f "$MARIADB_PID"
}

# --- Redis -----------------------------------------------------------------------------

redis_answers() {
  [[ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" == PONG ]]
}

redis_up() {
  if redis_answers; then
    log "redis already answers on 127.0.0.1:$REDIS_PORT"
    return
  fi
  rotate_log "$REDIS_LOG"
  mkdir -p "$CACHE/redis"
  mark_log "$REDIS_LOG"
  log "redis: starting on 127.0.0.1:$REDIS_PORT"
  redis-server --daemonize yes --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$CACHE/redis" --pidfile "$REDIS_PID" --logfile "$REDIS_LOG" 9>&- ||
    { show_log_tail "$REDIS_LOG" "$LOG_OFFSET"; die "redis-server did not start"; }
  wait_for redis "$REDIS_LOG" "" redis_answers
}

redis_down() {
  if redis_answers; then
    log "redis: stopping"
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
    local deadline=$((SECONDS + 20))
    while redis_answers && ((SECONDS < deadline)); do sleep 0.2; done
  fi
  if pid_alive "$REDIS_PID" redis-server; then kill "$(cat "$REDIS_PID")" 2>/dev/null || true; fi
  rm -f "$REDIS_PID"
}

# --- Kafka -----------------------------------------------------------------------------

kafka_fetch() {
  [[ -f "$KAFKA_LIBS/.complete" ]] && return
  log "kafka: resolving org.apache.kafka:kafka_2.13:$KAFKA_VERSION and its runtime jars (Maven Central)"
  mkdir -p "$KAFKA_HOME"
  rm -rf "$KAFKA_LIBS"
  # kafka-tools brings the command-line tools (topics, console producer/consumer); its
  # connect-runtime dependency (Kafka Connect, Jetty, Jersey) is not needed here.
  # log4j-slf4j-impl binds Kafka's slf4j 1.7 logging to log4j2.
  cat >"$KAFKA_HOME/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.shop</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka-tools</artifactId>
      <version>$KAFKA_VERSION</version>
      <exclusions>
        <exclusion><groupId>org.apache.kafka</groupId><artifactId>connect-runtime</artifactId></exclusion>
      </exclusions>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>2.25.3</version>
    </dependency>
  </dependencies>
</project>
EOF
  if ! mvn -B -q -f "$KAFKA_HOME/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$KAFKA_LIBS" >"$LOG_DIR/kafka-maven.log" 2>&1; then
    show_log_tail "$LOG_DIR/kafka-maven.log"
    die "could not resolve the Kafka $KAFKA_VERSION jars (log: $LOG_DIR/kafka-maven.log)"
  fi
  [[ -f "$KAFKA_LIBS/kafka_2.13-$KAFKA_VERSION.jar" ]] || die "kafka_2.13-$KAFKA_VERSION.jar missing after resolution"
  touch "$KAFKA_LIBS/.complete"
  log "kafka: $(find "$KAFKA_LIBS" -name '*.jar' | wc -l) jars, $(du -sh "$KAFKA_LIBS" | cut -f1) in $KAFKA_LIBS"
}

kafka_write_config() {
  mkdir -p "$KAFKA_CONF" "$KAFKA_DATA"
  cat >"$KAFKA_CONF/server.properties" <<EOF
# Written by scripts/services.sh on every 'up'; edit the script, not this file.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KAFKA_DATA
auto.create.topics.enable=true
num.partitions=4
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=8
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.hours=168
EOF
  cat >"$KAFKA_CONF/log4j2.properties" <<'EOF'
# Broker logging: everything to stdout, which services.sh sends to .cache/logs/kafka.log.
status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.out.ref = OUT
logger.state.name = state.change.logger
logger.state.level = warn
logger.request.name = kafka.request.logger
logger.request.level = warn
logger.controller.name = org.apache.kafka.controller
logger.controller.level = info
EOF
  cat >"$KAFKA_CONF/tools-log4j2.properties" <<'EOF'
# Command-line tools: warnings only, on stderr, so their stdout stays clean.
status = warn
appender.err.type = Console
appender.err.name = ERR
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.err.ref = ERR
EOF
}

kafka_tool() { # main-class args...: a Kafka tool on the broker's classpath
  java -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC \
    -Dlog4j2.configurationFile="$KAFKA_CONF/tools-log4j2.properties" \
    -cp "$KAFKA_LIBS/*" "$@"
}

kafka_port_open() { tcp_open 127.0.0.1 "$KAFKA_PORT"; }

kafka_answers() { # the broker lists topics: registered and serving metadata
  kafka_port_open &&
    kafka_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:$KAFKA_PORT" \
      --list >/dev/null 2>&1
}

kafka_up() {
  if kafka_port_open; then
    log "kafka already answers on 127.0.0.1:$KAFKA_PORT"
    return
  fi
  if tcp_open 127.0.0.1 "$KAFKA_CONTROLLER_PORT"; then
    die "kafka: the controller port 127.0.0.1:$KAFKA_CONTROLLER_PORT is taken by another process (set SHOP_KAFKA_CONTROLLER_PORT)"
  fi
  kafka_fetch
  kafka_write_config
  if [[ ! -f "$KAFKA_DATA/meta.properties" ]]; then
    log "kafka: formatting $KAFKA_DATA (cluster id $KAFKA_CLUSTER_ID)"
    kafka_tool kafka.tools.StorageTool format -t "$KAFKA_CLUSTER_ID" -c "$KAFKA_CONF/server.properties" \
      >"$LOG_DIR/kafka-format.log" 2>&1 ||
      { show_log_tail "$LOG_DIR/kafka-format.log"; die "formatting the Kafka storage failed"; }
  fi
  rotate_log "$KAFKA_LOG"
  mark_log "$KAFKA_LOG"
  log "kafka $KAFKA_VERSION: starting on 127.0.0.1:$KAFKA_PORT (controller :$KAFKA_CONTROLLER_PORT)"
  # setsid: its own session, so the broker outlives the shell that started it.
  setsid java -Xms256m -Xmx"$KAFKA_HEAP" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -Djava.awt.headless=true -Dlog4j2.configurationFile="$KAFKA_CONF/log4j2.properties" \
    -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_CONF/server.properties" \
    </dev/null >>"$KAFKA_LOG" 2>&1 9>&- &
  echo $! >"$KAFKA_PID"
  wait_for kafka "$KAFKA_LOG" "$KAFKA_PID" kafka_port_open
  wait_for kafka "$KAFKA_LOG" "$KAFKA_PID" kafka_answers
}

kafka_down() {
  local pid=""
  if pid_alive "$KAFKA_PID" kafka.Kafka; then
    pid="$(cat "$KAFKA_PID")"
  elif kafka_port_open; then
    # Not started from this checkout's pidfile: find the broker by its listening port.
    pid="$(ss -Hltnp "sport = :$KAFKA_PORT" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n1 | cut -d= -f2 || true)"
    if [[ -z "$pid" ]] || ! tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF kafka.Kafka; then
      log "kafka: something answers on port $KAFKA_PORT but it is not a broker started by this script; left running"
      pid=""
    fi
  fi
  if [[ -n "$pid" ]]; then
    log "kafka: stopping (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + 60))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.3; done
    if kill -0 "$pid" 2>/dev/null; then
      log "kafka: did not stop within 60s; killing"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$KAFKA_PID"
}

# --- commands --------------------------------------------------------------------------

with_lock() { # serialise concurrent up/down calls from any checkout
  exec 9>/run/lock/shop-services.lock
  flock -w 600 9 || die "another services.sh is still running (lock /run/lock/shop-services.lock)"
}

SERVICES=(mariadb redis kafka)

select_services() { # names...: SERVICES = the given ones (default all), in start order
  (($#)) || return 0
  local name wanted=()
  for name in "$@"; do
    case "$name" in
      mariadb | mysql) wanted+=(mariadb) ;;
      redis | kafka) wanted+=("$name") ;;
      *) die "unknown service '$name' (mariadb, redis, kafka)" ;;
    esac
  done
  SERVICES=()
  for name in mariadb redis kafka; do
    if [[ " ${wanted[*]} " == *" $name "* ]]; then SERVICES+=("$name"); fi
  done
}

selected() { [[ " ${SERVICES[*]} " == *" $1 "* ]]; }

cmd_up() {
  mkdir -p "$RUN_DIR" "$LOG_DIR"
  with_lock
  local started=$SECONDS name
  ensure_packages
  for name in "${SERVICES[@]}"; do "${name}_up"; done
  log "up in $((SECONDS - started))s: $(cmd_status | awk '{print $1 " " $3}' | paste -sd, - | sed 's/,/, /g')"
  log "use them with: eval \"\$(scripts/services.sh env)\""
}

cmd_down() {
  mkdir -p "$RUN_DIR" "$LOG_DIR"
  with_lock
  if selected kafka && command -v java >/dev/null 2>&1; then kafka_down; fi
  if selected redis && command -v redis-cli >/dev/null 2>&1; then redis_down; fi
  if selected mariadb && command -v mariadb-admin >/dev/null 2>&1; then mariadb_down; fi
  log "down: ${SERVICES[*]}"
}

cmd_status() {
  local rc=0
  if selected mariadb; then
    if command -v mariadb-admin >/dev/null 2>&1 && mariadb_answers; then
      echo "mariadb up   127.0.0.1:$MYSQL_PORT"
    else
      echo "mariadb down 127.0.0.1:$MYSQL_PORT"; rc=1
    fi
  fi
  if selected redis; then
    if command -v redis-cli >/dev/null 2>&1 && redis_answers; then
      echo "redis   up   127.0.0.1:$REDIS_PORT"
    else
      echo "redis   down 127.0.0.1:$REDIS_PORT"; rc=1
    fi
  fi
  if selected kafka; then
    if kafka_port_open; then
      echo "kafka   up   127.0.0.1:$KAFKA_PORT"
    else
      echo "kafka   down 127.0.0.1:$KAFKA_PORT"; rc=1
    fi
  fi
  return "$rc"
}

cmd_env() {
  echo "export SHOP_DATABASE_URL=mysql://shop:shop@127.0.0.1:$MYSQL_PORT/shop"
  echo "export SHOP_REDIS_URL=redis://127.0.0.1:$REDIS_PORT"
  echo "export SHOP_KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT"
}

cmd_kafka_run() {
  [[ $# -ge 1 ]] || die "usage: $0 kafka-run MAIN-CLASS [ARGS...]"
  mkdir -p "$LOG_DIR"
  kafka_fetch
  [[ -f "$KAFKA_CONF/tools-log4j2.properties" ]] || kafka_write_config
  kafka_tool "$@"
}

case "${1:-}" in
  up) shift; select_services "$@"; cmd_up ;;
  down) shift; select_services "$@"; cmd_down ;;
  status) shift; select_services "$@"; cmd_status ;;
  env) cmd_env ;;
  kafka-run) shift; cmd_kafka_run "$@" ;;
  *)
    echo "usage: $0 up|down|status [mariadb|redis|kafka...] | env | kafka-run MAIN-CLASS [ARGS...]" >&2
    exit 2
    ;;
esac

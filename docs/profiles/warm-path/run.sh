#!/bin/bash
# Warm-query load on a running server: wrk with 1 thread and CONNS connections, and the
# server's CPU (utime+stime of the process listening on PORT, from /proc) over the run.
# WORK holds NAME.cid and NAME.bodies written by load.py.
# run.sh PORT NAME CONNS SECONDS -> wrk summary + server CPU seconds per request (from /proc)
port=$1; name=$2; conns=$3; secs=$4
pid=$(pgrep -f "port $port " | head -1)
cid=$(cat ${WORK:-/tmp/warmprof}/$name.cid)
export BODIES=${WORK:-/tmp/warmprof}/$name.bodies QPATH=/api/v2/tenants/default_tenant/databases/default_database/collections/$cid/query
tick() { awk '{print $14+$15}' /proc/$pid/stat; }
t0=$(tick)
out=$(wrk -t1 -c$conns -d${secs}s --latency -s "$(dirname "$0")/query.lua" http://127.0.0.1:$port 2>&1)
t1=$(tick)
reqs=$(echo "$out" | awk '/requests in/{print $1}')
echo "$out" | grep -E "Requests/sec|50%|99%|errors|Non-2xx"
echo "server cpu: $(( t1 - t0 )) ticks for $reqs requests => $(echo "scale=3; ($t1-$t0)*10/$reqs" | bc) ms/req, cores busy $(echo "scale=2; ($t1-$t0)/100/$secs" | bc)"
